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
  /** purchases per click, shrunk towards the brand's rate (itself shrunk towards the category's) */
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

/** A record type's named fields (its index signature left out). */
type FieldsOf<T> = keyof { [K in keyof T as string extends K ? never : number extends K ? never : K]: T[K] };

// One entry per field: the compiler holds each list to its interface (a missing or extra field is
// a type error), so what the validator treats as served cannot drift from what the backfill writes.
const userFields: Record<FieldsOf<UserFeatures>, true> = {
  segment: true,
  loyalty_tier: true,
  tenure_days: true,
  impressions: true,
  clicks: true,
  purchases: true,
  click_coec: true,
  category_affinity: true,
  brand_affinity: true,
  avg_click_price: true,
  category_share: true,
  relative_click_price: true,
};
const itemFields: Record<FieldsOf<ItemFeatures>, true> = {
  category: true,
  brand: true,
  price: true,
  rating: true,
  age_days: true,
  impressions: true,
  clicks: true,
  purchases: true,
  click_coec: true,
  segment_coec: true,
  brand_segment_affinity: true,
  cvr: true,
  price_vs_category: true,
};
const contextFields: Record<FieldsOf<ContextFeatures>, true> = { device: true, page: true, hour: true };

/** The fields of a user, item and context record. */
export const USER_RECORD_FIELDS: readonly string[] = Object.keys(userFields);
export const ITEM_RECORD_FIELDS: readonly string[] = Object.keys(itemFields);
export const CONTEXT_RECORD_FIELDS: readonly string[] = Object.keys(contextFields);

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
