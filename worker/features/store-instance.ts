// One FeatureStore per isolate and KV binding, so its caches outlive a request. The record cache is
// configured by wrangler vars (env.ts); anything missing or malformed takes the default.
import type { Bindings } from '../env.ts';
import { DEFAULT_RECORD_CACHE, type RecordCacheOptions } from './record-cache.ts';
import { DEFAULT_ACTIVE_TTL_MS, FeatureStore } from './store.ts';

const stores = new WeakMap<KVNamespace, FeatureStore>();

function nonNegative(value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === '') return fallback;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

/** The record-cache settings the wrangler vars ask for. */
export function recordCacheOptions(env: Bindings): RecordCacheOptions {
  const d = DEFAULT_RECORD_CACHE;
  return {
    ttlMs: nonNegative(env.FEATURE_CACHE_TTL_MS, d.ttlMs),
    staleMs: nonNegative(env.FEATURE_CACHE_STALE_MS, d.staleMs),
    negativeTtlMs: nonNegative(env.FEATURE_CACHE_NEGATIVE_TTL_MS, d.negativeTtlMs),
    maxEntries: Math.floor(nonNegative(env.FEATURE_CACHE_MAX_ENTRIES, d.maxEntries)),
    maxBytes: Math.floor(nonNegative(env.FEATURE_CACHE_MAX_MB, d.maxBytes / 1024 / 1024) * 1024 * 1024),
  };
}

export function featureStore(env: Bindings): FeatureStore {
  let store = stores.get(env.FEATURES);
  if (!store) {
    store = new FeatureStore(env.FEATURES, {
      activeTtlMs: nonNegative(env.FEATURE_SET_REFRESH_MS, DEFAULT_ACTIVE_TTL_MS),
      cache: recordCacheOptions(env),
    });
    stores.set(env.FEATURES, store);
  }
  return store;
}
