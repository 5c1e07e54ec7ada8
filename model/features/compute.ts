// Computes the commerce-v1 user and item feature records from an impression log and the catalog
// and user tables. Used by the backfill (records for KV) and by the trainer (records as of the end
// of a history window), so that training and serving see values made by the same code.
//
// Click rates are position-debiased as COEC (clicks over expected clicks): every impression
// contributes the global click rate of its position as "expected", so an item shown mostly at the
// top is not mistaken for an attractive one.
import type { CatalogItem, Impression, UserProfile } from '../data/impressions.ts';
import type { ItemFeatures, UserFeatures } from './records.ts';

/**
 * Feature records summarise the trailing window of this many days: the backfill uses the log's
 * last window, the trainer the window before each training day (point in time), so training and
 * serving see statistics over the same span.
 */
export const FEATURE_WINDOW_DAYS = 7;
export const DAY_MS = 86_400_000;

/** Positions past this share one bucket when estimating the position click curve. */
export const MAX_POSITION_BUCKET = 50;

/** Pseudo-counts of expected clicks added to every COEC (shrinks sparse entities towards 1). */
const COEC_PRIOR = 2;
/** Pseudo-clicks added to every item's purchases-per-click rate. */
const CVR_PRIOR_CLICKS = 10;

/** Global click rate per displayed position, from one pass over the log. */
export class PositionCurve {
  private readonly shown = new Float64Array(MAX_POSITION_BUCKET + 1);
  private readonly clicks = new Float64Array(MAX_POSITION_BUCKET + 1);

  add(impression: Pick<Impression, 'position' | 'clicked'>): void {
    const b = bucket(impression.position);
    this.shown[b]!++;
    this.clicks[b]! += impression.clicked;
  }

  /**
   * Click rate at each position bucket, made non-increasing and free of empty buckets (an unseen
   * deep position inherits the rate of the position above it).
   */
  rates(): Float64Array {
    const totalShown = this.shown.reduce((a, b) => a + b, 0);
    const totalClicks = this.clicks.reduce((a, b) => a + b, 0);
    const overall = totalShown > 0 ? (totalClicks + 1) / (totalShown + 2) : 0.05;
    const rates = new Float64Array(MAX_POSITION_BUCKET + 1);
    let previous = overall;
    for (let b = 1; b <= MAX_POSITION_BUCKET; b++) {
      // Shrink each bucket towards the overall rate with 20 pseudo-impressions.
      const rate = (this.clicks[b]! + 20 * overall) / (this.shown[b]! + 20);
      previous = b === 1 ? rate : Math.min(previous, rate);
      rates[b] = previous;
    }
    rates[0] = rates[1]!;
    return rates;
  }
}

function bucket(position: number): number {
  return position < 1 ? 1 : position > MAX_POSITION_BUCKET ? MAX_POSITION_BUCKET : Math.floor(position);
}

interface Counts {
  impressions: number;
  clicks: number;
  purchases: number;
  expected: number;
}

interface UserStats extends Counts {
  clickedPriceSum: number;
  shownPriceSum: number;
  byCategory: Map<string, { clicks: number; expected: number }>;
}

const newCounts = (): Counts => ({ impressions: 0, clicks: 0, purchases: 0, expected: 0 });

/** Rounds to 4 significant digits: KV values stay small and both sides see identical numbers. */
export function round4(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  return Number(x.toPrecision(4));
}

/**
 * Accumulates per-user and per-item statistics over a log; `userFeatures`/`itemFeatures` then give
 * the records for any user/item, including ones the log never saw (prior values).
 */
export class FeatureStatsAccumulator {
  private readonly users = new Map<string, UserStats>();
  private readonly items = new Map<string, Counts>();
  private readonly itemCategory: Map<string, string>;
  private totalClicks = 0;
  private totalPurchases = 0;

  /**
   * @param positionRates the log's click rate per position bucket (PositionCurve.rates())
   * @param catalog item id -> category, so a user's clicks can be counted per category
   */
  constructor(
    private readonly positionRates: Float64Array,
    catalog: ReadonlyMap<string, string>,
  ) {
    this.itemCategory = new Map(catalog);
  }

  add(impression: Impression): void {
    const expected = this.positionRates[bucket(impression.position)]!;
    let item = this.items.get(impression.item_id);
    if (!item) this.items.set(impression.item_id, (item = newCounts()));
    item.impressions++;
    item.clicks += impression.clicked;
    item.purchases += impression.purchased;
    item.expected += expected;

    let user = this.users.get(impression.user_id);
    if (!user) {
      user = { ...newCounts(), clickedPriceSum: 0, shownPriceSum: 0, byCategory: new Map() };
      this.users.set(impression.user_id, user);
    }
    user.impressions++;
    user.clicks += impression.clicked;
    user.purchases += impression.purchased;
    user.expected += expected;
    user.shownPriceSum += impression.price;
    if (impression.clicked) user.clickedPriceSum += impression.price;
    const category = this.itemCategory.get(impression.item_id);
    if (category !== undefined) {
      let c = user.byCategory.get(category);
      if (!c) user.byCategory.set(category, (c = { clicks: 0, expected: 0 }));
      c.clicks += impression.clicked;
      c.expected += expected;
    }
    this.totalClicks += impression.clicked;
    this.totalPurchases += impression.purchased;
  }

  /** Purchases per click over the whole log (the prior for sparse items). */
  globalCvr(): number {
    return (this.totalPurchases + 1) / (this.totalClicks + 10);
  }

  userFeatures(profile: UserProfile): UserFeatures {
    const s = this.users.get(profile.user_id);
    const coec = s ? (s.clicks + COEC_PRIOR) / (s.expected + COEC_PRIOR) : 1;
    const affinity: Record<string, number> = {};
    if (s) {
      for (const [category, c] of s.byCategory) {
        // The user's rate in this category relative to their overall rate, shrunk towards 1.
        const rate = (c.clicks + COEC_PRIOR * coec) / (c.expected + COEC_PRIOR);
        affinity[category] = round4(rate / coec);
      }
    }
    let avgPrice = 0;
    if (s && s.clicks > 0) avgPrice = s.clickedPriceSum / s.clicks;
    else if (s && s.impressions > 0) avgPrice = s.shownPriceSum / s.impressions;
    const record: UserFeatures = {
      segment: profile.segment,
      loyalty_tier: profile.loyalty_tier,
      tenure_days: profile.tenure_days,
      impressions: s?.impressions ?? 0,
      clicks: s?.clicks ?? 0,
      purchases: s?.purchases ?? 0,
      click_coec: round4(coec),
      category_affinity: affinity,
      avg_click_price: round4(avgPrice),
    };
    // No price history: leave the field out so the feature default applies.
    if (avgPrice <= 0) delete (record as Partial<UserFeatures>).avg_click_price;
    return record;
  }

  itemFeatures(item: CatalogItem): ItemFeatures {
    const s = this.items.get(item.item_id);
    const prior = this.globalCvr();
    return {
      category: item.category,
      brand: item.brand,
      price: item.price,
      rating: item.rating,
      age_days: item.age_days,
      impressions: s?.impressions ?? 0,
      clicks: s?.clicks ?? 0,
      purchases: s?.purchases ?? 0,
      click_coec: round4(s ? (s.clicks + COEC_PRIOR) / (s.expected + COEC_PRIOR) : 1),
      cvr: round4(s ? (s.purchases + CVR_PRIOR_CLICKS * prior) / (s.clicks + CVR_PRIOR_CLICKS) : prior),
    };
  }
}
