// Turns the tables and the impression log into KV pairs of one feature-set version: two passes over
// the log (the position click curve first, then per-user and per-item statistics), then one record
// per user and per item, streamed so memory holds statistics, not output.
import type { CatalogItem, Impression, UserProfile } from '../../model/data/impressions.ts';
import { DAY_MS, FEATURE_WINDOW_DAYS, FeatureStatsAccumulator, PositionCurve } from '../../model/features/compute.ts';
import { itemKey, userKey } from '../../model/features/kv-layout.ts';

export interface KvPair {
  key: string;
  value: string;
}

export interface FeatureSources {
  impressions: () => AsyncIterable<Impression>;
  users: () => AsyncIterable<UserProfile>;
  items: () => AsyncIterable<CatalogItem>;
}

export interface StatsWindow {
  /** records summarise impressions with fromTs <= ts < toTs */
  fromTs: number;
  toTs: number;
}

/**
 * The serving window: the `windowDays` whole days before the day after the log's last impression,
 * i.e. what the trainer's point-in-time features see for "tomorrow".
 */
export async function servingWindow(sources: FeatureSources, windowDays = FEATURE_WINDOW_DAYS): Promise<StatsWindow> {
  let last = Number.NEGATIVE_INFINITY;
  for await (const impression of sources.impressions()) if (impression.ts > last) last = impression.ts;
  if (!Number.isFinite(last)) return { fromTs: 0, toTs: 0 };
  const toTs = (Math.floor(last / DAY_MS) + 1) * DAY_MS;
  return { fromTs: toTs - windowDays * DAY_MS, toTs };
}

export async function accumulateStats(sources: FeatureSources, window: StatsWindow): Promise<FeatureStatsAccumulator> {
  const inWindow = (ts: number) => ts >= window.fromTs && ts < window.toTs;
  const curve = new PositionCurve();
  for await (const impression of sources.impressions()) if (inWindow(impression.ts)) curve.add(impression);
  const categories = new Map<string, string>();
  for await (const item of sources.items()) categories.set(item.item_id, item.category);
  const stats = new FeatureStatsAccumulator(curve.rates(), categories);
  for await (const impression of sources.impressions()) if (inWindow(impression.ts)) stats.add(impression);
  return stats;
}

/** Every KV pair of the feature set `version`: items first, then users. */
export async function* featurePairs(sources: FeatureSources, stats: FeatureStatsAccumulator, version: string): AsyncGenerator<KvPair> {
  for await (const item of sources.items()) {
    yield { key: itemKey(version, item.item_id), value: JSON.stringify(stats.itemFeatures(item)) };
  }
  for await (const user of sources.users()) {
    yield { key: userKey(version, user.user_id), value: JSON.stringify(stats.userFeatures(user)) };
  }
}
