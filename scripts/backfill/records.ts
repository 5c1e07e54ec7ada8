// Turns the tables and the impression log into KV pairs of one feature-set version: two passes over
// the log (the position click curve first, then per-user and per-item statistics), then one record
// per user and per item, streamed so memory holds statistics, not output.
import type { CatalogItem, Impression, UserProfile } from '../../model/data/impressions.ts';
import { FeatureStatsAccumulator, PositionCurve } from '../../model/features/compute.ts';
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

export async function accumulateStats(sources: FeatureSources): Promise<FeatureStatsAccumulator> {
  const curve = new PositionCurve();
  for await (const impression of sources.impressions()) curve.add(impression);
  const categories = new Map<string, string>();
  for await (const item of sources.items()) categories.set(item.item_id, item.category);
  const stats = new FeatureStatsAccumulator(curve.rates(), categories);
  for await (const impression of sources.impressions()) stats.add(impression);
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
