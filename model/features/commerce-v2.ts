// The reference trainer's features over the commerce-v2 records: which record fields the model
// reads and how. Transforms' constants and vocabularies are placeholders here; fit.ts fills them
// from training data and the result goes into the manifest.
import type { FeatureSpec, FieldRef, ModelInput, NumericTransform } from './manifest.ts';

const identity = { mean: 0, std: 1 };
const logIdentity = { log1p: true, mean: 0, std: 1 };

/** A cross feature: `key`'s value looked up in the map at `map` (e.g. the user's affinity for the item's category). */
function mapLookup(name: string, map: FieldRef, key: FieldRef, fallback: number, transform: NumericTransform): FeatureSpec {
  return { name, kind: 'cross', op: 'map_lookup', map, key, default: fallback, transform };
}

export interface CommerceFeatureOptions {
  /** hash buckets for the item id embedding (0 = no id feature) */
  itemIdBuckets: number;
  /** hash buckets for the user id embedding (0 = no id feature) */
  userIdBuckets: number;
}

export function commerceV2Features(options: CommerceFeatureOptions): { features: FeatureSpec[]; inputs: ModelInput[] } {
  const categorical: FeatureSpec[] = [
    { name: 'user_segment', kind: 'categorical', from: { source: 'user', field: 'segment' }, vocab: [] },
    { name: 'user_tier', kind: 'categorical', from: { source: 'user', field: 'loyalty_tier' }, vocab: [] },
    { name: 'item_category', kind: 'categorical', from: { source: 'item', field: 'category' }, vocab: [] },
    { name: 'item_brand', kind: 'categorical', from: { source: 'item', field: 'brand' }, vocab: [] },
    { name: 'ctx_device', kind: 'categorical', from: { source: 'context', field: 'device' }, vocab: [] },
    { name: 'ctx_page', kind: 'categorical', from: { source: 'context', field: 'page' }, vocab: [] },
    { name: 'ctx_hour', kind: 'categorical', from: { source: 'context', field: 'hour' }, vocab: Array.from({ length: 24 }, (_, h) => String(h)) },
  ];
  if (options.itemIdBuckets > 0) {
    categorical.push({ name: 'item_id', kind: 'categorical', from: { source: 'item', field: 'id' }, hash_buckets: options.itemIdBuckets });
  }
  if (options.userIdBuckets > 0) {
    categorical.push({ name: 'user_id', kind: 'categorical', from: { source: 'user', field: 'id' }, hash_buckets: options.userIdBuckets });
  }
  const numeric: FeatureSpec[] = [
    { name: 'user_tenure', kind: 'numeric', from: { source: 'user', field: 'tenure_days' }, default: 0, transform: logIdentity },
    { name: 'user_impressions', kind: 'numeric', from: { source: 'user', field: 'impressions' }, default: 0, transform: logIdentity },
    { name: 'user_clicks', kind: 'numeric', from: { source: 'user', field: 'clicks' }, default: 0, transform: logIdentity },
    { name: 'user_click_coec', kind: 'numeric', from: { source: 'user', field: 'click_coec' }, default: 1, transform: { ...logIdentity, clip: [0, 3] } },
    { name: 'user_avg_price', kind: 'numeric', from: { source: 'user', field: 'avg_click_price' }, default: 0, transform: logIdentity },
    { name: 'item_price', kind: 'numeric', from: { source: 'item', field: 'price' }, default: 0, transform: logIdentity },
    { name: 'item_rating', kind: 'numeric', from: { source: 'item', field: 'rating' }, default: 3, transform: { ...identity, clip: [0, 5] } },
    { name: 'item_age', kind: 'numeric', from: { source: 'item', field: 'age_days' }, default: 0, transform: logIdentity },
    { name: 'item_impressions', kind: 'numeric', from: { source: 'item', field: 'impressions' }, default: 0, transform: logIdentity },
    { name: 'item_click_coec', kind: 'numeric', from: { source: 'item', field: 'click_coec' }, default: 1, transform: { ...logIdentity, clip: [0, 5] } },
    { name: 'item_cvr', kind: 'numeric', from: { source: 'item', field: 'cvr' }, default: 0.1, transform: { ...identity, clip: [0, 1] } },
    mapLookup('user_category_affinity', { source: 'user', field: 'category_affinity' }, { source: 'item', field: 'category' }, 1, { ...logIdentity, clip: [0, 5] }),
    mapLookup('user_brand_affinity', { source: 'user', field: 'brand_affinity' }, { source: 'item', field: 'brand' }, 1, { ...logIdentity, clip: [0, 5] }),
    mapLookup('item_segment_coec', { source: 'item', field: 'segment_coec' }, { source: 'user', field: 'segment' }, 1, { ...logIdentity, clip: [0, 5] }),
    mapLookup('brand_segment_affinity', { source: 'item', field: 'brand_segment_affinity' }, { source: 'user', field: 'segment' }, 1, { ...logIdentity, clip: [0, 5] }),
    { name: 'item_price_vs_category', kind: 'numeric', from: { source: 'item', field: 'price_vs_category' }, default: 0, transform: { ...identity, clip: [-3, 3] } },
    { name: 'user_relative_price', kind: 'numeric', from: { source: 'user', field: 'relative_click_price' }, default: 0, transform: { ...identity, clip: [-3, 3] } },
    mapLookup('user_category_share', { source: 'user', field: 'category_share' }, { source: 'item', field: 'category' }, 0, { ...identity, clip: [0, 1] }),
    {
      name: 'price_vs_user',
      kind: 'cross',
      op: 'log_ratio',
      numerator: { source: 'item', field: 'price' },
      denominator: { source: 'user', field: 'avg_click_price' },
      default: 0,
      transform: { ...identity, clip: [-3, 3] },
    },
  ];
  return {
    features: [...categorical, ...numeric],
    inputs: [
      { name: 'cat', dtype: 'int32', features: categorical.map((f) => f.name) },
      { name: 'num', dtype: 'float32', features: numeric.map((f) => f.name) },
    ],
  };
}
