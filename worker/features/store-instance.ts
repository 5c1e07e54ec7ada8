// One FeatureStore per isolate and KV binding, so its caches outlive a request.
import { FeatureStore } from './store.ts';

const stores = new WeakMap<KVNamespace, FeatureStore>();

export function featureStore(kv: KVNamespace): FeatureStore {
  let store = stores.get(kv);
  if (!store) stores.set(kv, (store = new FeatureStore(kv)));
  return store;
}
