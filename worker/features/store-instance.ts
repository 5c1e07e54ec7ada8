// One FeatureStore per isolate and KV binding, so its caches outlive a request.
import type { Bindings } from '../env.ts';
import { DEFAULT_ACTIVE_TTL_MS, FeatureStore } from './store.ts';

const stores = new WeakMap<KVNamespace, FeatureStore>();

export function featureStore(env: Bindings): FeatureStore {
  let store = stores.get(env.FEATURES);
  if (!store) {
    const ttl = Number(env.FEATURE_SET_REFRESH_MS ?? DEFAULT_ACTIVE_TTL_MS);
    store = new FeatureStore(env.FEATURES, Number.isFinite(ttl) && ttl >= 0 ? ttl : DEFAULT_ACTIVE_TTL_MS);
    stores.set(env.FEATURES, store);
  }
  return store;
}
