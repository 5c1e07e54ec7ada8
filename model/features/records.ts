// Raw feature records: what the backfill stores in KV and what the trainer reads, before the
// manifest's transforms. Values are plain JSON so that KV's bulk get (text/json only) returns them
// directly. Anything may be missing or malformed at serving time; the assembler defaults it.

/** The feature-set schema this code writes and reads; manifests name it in feature_set.schema. */
export const FEATURE_SET_SCHEMA = 'commerce-v2';

export type RawValue = string | number | boolean | null | RawRecord | RawValue[];
export interface RawRecord {
  [field: string]: RawValue | undefined;
}

/** fs:<version>:u:<userId> */
export interface UserFeatures extends RawRecord {
  segment: string;
  loyalty_tier: string;
  tenure_days: number;
  impressions: number;
  clicks: number;
  purchases: number;
  /** position-debiased click rate: clicks over expected clicks at the positions seen (COEC) */
  click_coec: number;
  /** category -> the user's COEC in that category relative to their overall COEC */
  category_affinity: Record<string, number>;
  /** brand -> the same for brands the user was exposed to enough (or clicked) */
  brand_affinity: Record<string, number>;
  /** mean price of items the user clicked; the user's overall mean shown price when no clicks; undefined (left out of the JSON) without either */
  avg_click_price?: number | undefined;
  /** category -> share of the user's impressions in it (where they browse) */
  category_share: Record<string, number>;
  /** mean log(price / category median price) of clicked items, shrunk towards 0: the user's price level */
  relative_click_price: number;
}

/** fs:<version>:i:<itemId> */
export interface ItemFeatures extends RawRecord {
  category: string;
  brand: string;
  price: number;
  rating: number;
  age_days: number;
  impressions: number;
  clicks: number;
  purchases: number;
  click_coec: number;
  /** user segment -> the item's COEC with that segment's users, shrunk towards click_coec */
  segment_coec: Record<string, number>;
  /** user segment -> the item's brand's rate with that segment relative to the brand's overall rate */
  brand_segment_affinity: Record<string, number>;
  /** smoothed purchases per click */
  cvr: number;
  /** log(price / median price of the category), absent when the category's median is unknown */
  price_vs_category?: number | undefined;
}

/** The request context after derivation (hour from the request time). */
export interface ContextFeatures extends RawRecord {
  device: string;
  page: string;
  hour: number;
}

/** Derives the context record from a request's context (or a logged impression's). */
export function contextRecord(context: { device?: unknown; page?: unknown; time?: unknown } | undefined, now: Date): ContextFeatures {
  let hour = now.getUTCHours();
  if (context && typeof context.time === 'string') {
    const parsed = Date.parse(context.time);
    if (Number.isFinite(parsed)) hour = new Date(parsed).getUTCHours();
  } else if (context && typeof context.time === 'number' && Number.isFinite(context.time)) {
    hour = new Date(context.time).getUTCHours();
  }
  return {
    device: typeof context?.device === 'string' ? context.device : 'unknown',
    page: typeof context?.page === 'string' ? context.page : 'unknown',
    hour,
  };
}
