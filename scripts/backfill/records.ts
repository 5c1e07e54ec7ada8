// Turns the tables and the impression log into the records of one feature-set version: one pass over
// the log for its time span and position click curve (kept per day, so the serving window's curve
// comes out of the same pass), one pass for per-user and per-item statistics over that window, then
// one record per item and per user, streamed so memory holds statistics, not output.
import type { CatalogItem, Impression, UserProfile } from '../../model/data/impressions.ts';
import { DAY_MS, FEATURE_WINDOW_DAYS, FeatureStatsAccumulator, MAX_POSITION_BUCKET, PositionCurve } from '../../model/features/compute.ts';

export interface KvPair {
  key: string;
  value: string;
}

/** The three input tables, each a fresh pass per call, in batches of rows. */
export interface FeatureSources {
  impressions: () => AsyncIterable<Impression[]>;
  users: () => AsyncIterable<UserProfile[]>;
  items: () => AsyncIterable<CatalogItem[]>;
  /** optional cheaper passes over a few columns (a table reader converts only those) */
  impressionCurveColumns?: () => AsyncIterable<Pick<Impression, 'ts' | 'position' | 'clicked'>[]>;
  itemAttributes?: () => AsyncIterable<Pick<CatalogItem, 'item_id' | 'category' | 'brand'>[]>;
  userSegments?: () => AsyncIterable<Pick<UserProfile, 'user_id' | 'segment'>[]>;
}

export interface StatsWindow {
  /** records summarise impressions with fromTs <= ts < toTs */
  fromTs: number;
  toTs: number;
}

/** Clamps a position the way PositionCurve buckets it (1..MAX_POSITION_BUCKET). */
function positionBucket(position: number): number {
  return position < 1 ? 1 : position > MAX_POSITION_BUCKET ? MAX_POSITION_BUCKET : Math.floor(position);
}

/**
 * The serving window (the `windowDays` whole days before the day after the log's last impression,
 * i.e. what the trainer's point-in-time features see for "tomorrow") and the position click curve
 * over it, from one pass: shown/clicked counts are kept per day and position bucket, and the
 * window's days are replayed into the shared PositionCurve, so its rates are exactly those of a
 * curve fed the window's impressions one by one.
 */
export async function windowAndCurve(sources: FeatureSources, windowDays = FEATURE_WINDOW_DAYS): Promise<{ window: StatsWindow; rates: Float64Array }> {
  const width = MAX_POSITION_BUCKET + 1;
  const perDay = new Map<number, Float64Array>(); // day -> [shown by bucket..., clicks by bucket...]
  let last = Number.NEGATIVE_INFINITY;
  for await (const batch of (sources.impressionCurveColumns ?? sources.impressions)()) {
    for (const impression of batch) {
      const ts = impression.ts;
      if (ts > last) last = ts;
      const day = Math.floor(ts / DAY_MS);
      let counts = perDay.get(day);
      if (!counts) perDay.set(day, (counts = new Float64Array(2 * width)));
      const b = positionBucket(impression.position);
      counts[b]!++;
      counts[width + b]! += impression.clicked;
    }
  }
  const curve = new PositionCurve();
  if (!Number.isFinite(last)) return { window: { fromTs: 0, toTs: 0 }, rates: curve.rates() };
  const toDay = Math.floor(last / DAY_MS) + 1;
  const window = { fromTs: (toDay - windowDays) * DAY_MS, toTs: toDay * DAY_MS };
  for (let day = toDay - windowDays; day < toDay; day++) {
    const counts = perDay.get(day);
    if (!counts) continue;
    for (let b = 1; b <= MAX_POSITION_BUCKET; b++) {
      const clicks = counts[width + b]!;
      for (let k = 0; k < clicks; k++) curve.add({ position: b, clicked: 1 });
      for (let k = clicks; k < counts[b]!; k++) curve.add({ position: b, clicked: 0 });
    }
  }
  return { window, rates: curve.rates() };
}

/** Per-user and per-item statistics over the serving window (FeatureStatsAccumulator, the shared module). */
export async function accumulateStats(sources: FeatureSources, windowDays = FEATURE_WINDOW_DAYS): Promise<{ stats: FeatureStatsAccumulator; window: StatsWindow; items: number }> {
  const { window, rates } = await windowAndCurve(sources, windowDays);
  const itemCategory = new Map<string, string>();
  const itemBrand = new Map<string, string>();
  let items = 0;
  for await (const batch of (sources.itemAttributes ?? sources.items)()) {
    for (const item of batch) {
      itemCategory.set(item.item_id, item.category);
      itemBrand.set(item.item_id, item.brand);
    }
    items += batch.length;
  }
  const userSegment = new Map<string, string>();
  for await (const batch of (sources.userSegments ?? sources.users)()) for (const user of batch) userSegment.set(user.user_id, user.segment);
  const stats = new FeatureStatsAccumulator(rates, { itemCategory, itemBrand, userSegment });
  for await (const batch of sources.impressions()) {
    for (const impression of batch) if (impression.ts >= window.fromTs && impression.ts < window.toTs) stats.add(impression);
  }
  return { stats, window, items };
}
