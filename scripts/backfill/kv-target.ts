// Where a backfill writes. The local target is the KV that `wrangler dev` and `npm start` read:
// Miniflare's persisted state under .wrangler/state, opened through wrangler's getPlatformProxy.
import type { KvPair } from './records.ts';

export interface KvTarget {
  readonly description: string;
  putBatch(pairs: readonly KvPair[]): Promise<void>;
  get(key: string): Promise<string | null>;
  put(key: string, value: string): Promise<void>;
  close(): Promise<void>;
}

/** Parallel single puts: Miniflare's KV has no bulk write, and its simulator is the bottleneck. */
const LOCAL_PUT_CONCURRENCY = 32;

export async function openLocalKv(options: { configPath: string; persistPath?: string; binding?: string }): Promise<KvTarget> {
  // Miniflare would otherwise try to download a Request.cf sample from Cloudflare (offline here).
  process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false';
  const { getPlatformProxy } = await import('wrangler');
  const proxy = await getPlatformProxy<Record<string, KVNamespace>>({
    configPath: options.configPath,
    ...(options.persistPath ? { persist: { path: options.persistPath } } : {}),
  });
  const binding = options.binding ?? 'FEATURES';
  const kv = proxy.env[binding];
  if (!kv) {
    await proxy.dispose();
    throw new Error(`${options.configPath} declares no KV binding named ${binding}`);
  }
  return {
    description: `local KV (binding ${binding}, Miniflare state${options.persistPath ? ` at ${options.persistPath}` : ' under .wrangler/state'})`,
    async putBatch(pairs) {
      let next = 0;
      const worker = async () => {
        while (next < pairs.length) {
          const pair = pairs[next++]!;
          await kv.put(pair.key, pair.value);
        }
      };
      await Promise.all(Array.from({ length: Math.min(LOCAL_PUT_CONCURRENCY, pairs.length) }, worker));
    },
    get: (key) => kv.get(key, 'text'),
    put: (key, value) => kv.put(key, value),
    close: () => proxy.dispose(),
  };
}
