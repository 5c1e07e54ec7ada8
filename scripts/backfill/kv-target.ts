// Where a backfill writes. The local target is the KV that `wrangler dev` and `npm start` read:
// Miniflare's persisted state under .wrangler/state/v3. The remote target (cloudflare-kv.ts) is a
// Cloudflare KV namespace through the REST API.
import { dirname, join, resolve } from 'node:path';
import type { Miniflare } from 'miniflare';

/**
 * One bulk write: its keys and its request body, the bulk API's JSON array of {"key", "value"}
 * objects, written straight into a (pooled) Buffer as pairs are produced. `ends[i]` is where pair
 * i's object ends in `body`, so a subset can be re-sent without re-encoding.
 */
export interface WireBatch {
  keys: string[];
  body: Buffer;
  ends: number[];
  /** the whole (pooled) buffer `body` is a view of */
  buffer: Buffer;
}

/** Builds request bodies into reusable buffers: no per-batch string of megabytes, no re-encoding. */
export class BodyBuilder {
  private buf: Buffer;
  private length = 1;
  keys: string[] = [];
  ends: number[] = [];
  private readonly pool: Buffer[] = [];

  constructor(private readonly initialBytes = 4 << 20) {
    this.buf = this.take(0);
  }

  get count(): number {
    return this.keys.length;
  }

  /** Bytes the body has once closed (with the closing bracket). */
  get bytes(): number {
    return this.length + 1;
  }

  /** Appends one pair's JSON object, `pieceBytes` long in UTF-8. */
  add(key: string, piece: string, pieceBytes: number): void {
    const need = this.length + pieceBytes + 2;
    if (need > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
      this.buf.copy(bigger, 0, 0, this.length);
      this.buf = bigger;
    }
    if (this.keys.length > 0) this.buf[this.length++] = 0x2c; // ,
    this.length += this.buf.write(piece, this.length, 'utf8');
    this.keys.push(key);
    this.ends.push(this.length);
  }

  /** Closes the body and starts a new one; the batch's buffer comes back through release(). */
  finish(): WireBatch {
    this.buf[this.length++] = 0x5d; // ]
    const batch: WireBatch = { keys: this.keys, body: this.buf.subarray(0, this.length), ends: this.ends, buffer: this.buf };
    this.buf = this.take(this.buf.length);
    this.length = 1;
    this.keys = [];
    this.ends = [];
    return batch;
  }

  /** Hands a sent batch's buffer back for reuse. */
  release(batch: WireBatch): void {
    if (this.pool.length < 8) this.pool.push(batch.buffer);
  }

  private take(atLeast: number): Buffer {
    const buf = this.pool.pop() ?? Buffer.allocUnsafe(Math.max(this.initialBytes, atLeast));
    buf[0] = 0x5b; // [
    return buf;
  }
}

/** The body of a subset of a batch's pairs (by index), for re-sending unsuccessful keys. */
export function subsetBody(batch: WireBatch, indexes: readonly number[]): Buffer {
  const parts: Buffer[] = [Buffer.from('[')];
  indexes.forEach((i, n) => {
    const start = i === 0 ? 1 : batch.ends[i - 1]! + 1; // skip "[" or the comma before it
    if (n > 0) parts.push(Buffer.from(','));
    parts.push(batch.body.subarray(start, batch.ends[i]!));
  });
  parts.push(Buffer.from(']'));
  return Buffer.concat(parts);
}

export interface KvTarget {
  readonly description: string;
  /** the most pairs one putBatch takes */
  readonly maxPairs: number;
  putBatch(batch: WireBatch): Promise<void>;
  get(key: string): Promise<string | null>;
  put(key: string, value: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A worker that writes a whole batch inside workerd: one round trip per batch instead of one per
 * key through getPlatformProxy (measured here for the 4,500-key demo set: ~22 s with 32 parallel
 * single puts through the proxy, ~7 s with 4,500-pair requests to this worker under the same load).
 */
const BULK_WORKER = `
export default {
  async fetch(request, env) {
    const pairs = await request.json();
    await Promise.all(pairs.map((pair) => env.KV.put(pair.key, pair.value)));
    return new Response(String(pairs.length));
  },
};`;

export interface LocalKvOptions {
  configPath: string;
  /** Miniflare's v3 state directory (default: the config's directory/.wrangler/state/v3) */
  persistPath?: string;
  /** the KV binding of the config (default FEATURES) */
  binding?: string;
}

/**
 * A Miniflare instance running `script` with the config's KV namespace bound as `KV`, over the state
 * directory `wrangler dev` reads: the one way scripts reach the local KV (backfill, exposure log).
 */
export async function localKvMiniflare(options: LocalKvOptions, script: string): Promise<{ mf: Miniflare; description: string }> {
  // Miniflare would otherwise try to download a Request.cf sample from Cloudflare (offline here).
  process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false';
  const [{ Miniflare }, { unstable_getMiniflareWorkerOptions }] = await Promise.all([import('miniflare'), import('wrangler')]);
  const binding = options.binding ?? 'FEATURES';
  const configPath = resolve(options.configPath);
  const { workerOptions } = unstable_getMiniflareWorkerOptions(configPath);
  const namespaces = workerOptions.kvNamespaces as Record<string, string | { id: string }> | undefined;
  const entry = namespaces?.[binding];
  if (entry === undefined) throw new Error(`${options.configPath} declares no KV binding named ${binding}`);
  const namespaceId = typeof entry === 'string' ? entry : entry.id;
  const persistRoot = options.persistPath ? resolve(options.persistPath) : join(dirname(configPath), '.wrangler', 'state', 'v3');
  const mf = new Miniflare({ modules: true, script, kvNamespaces: { KV: namespaceId }, defaultPersistRoot: persistRoot, cf: false });
  await mf.ready;
  return { mf, description: `local KV (binding ${binding}, Miniflare state at ${persistRoot})` };
}

/**
 * Opens the local KV the way `wrangler kv bulk put --local` does: a Miniflare instance over the
 * state directory `wrangler dev` reads (the config's directory/.wrangler/state/v3 unless
 * `persistPath`), with the namespace id the config gives the binding.
 */
export async function openLocalKv(options: LocalKvOptions): Promise<KvTarget> {
  const { mf, description } = await localKvMiniflare(options, BULK_WORKER);
  const kv = await mf.getKVNamespace('KV');
  return {
    description,
    maxPairs: 10_000,
    async putBatch(batch) {
      const res = await mf.dispatchFetch('http://backfill.local/bulk', { method: 'POST', body: batch.body });
      const text = await res.text();
      if (!res.ok || Number(text) !== batch.keys.length) throw new Error(`local KV bulk write failed: ${res.status} ${text.slice(0, 200)}`);
    },
    get: (key) => kv.get(key, 'text'),
    put: (key, value) => kv.put(key, value),
    close: () => mf.dispose(),
  };
}

/** A KV target in memory (tests, and a reference to compare other targets with). */
export class MemoryKvTarget implements KvTarget {
  readonly description = 'memory';
  readonly maxPairs = 10_000;
  readonly data = new Map<string, string>();
  requests = 0;

  async putBatch(batch: WireBatch): Promise<void> {
    this.requests++;
    const pairs = JSON.parse(batch.body.toString('utf8')) as { key: string; value: string }[];
    for (const pair of pairs) this.data.set(pair.key, pair.value);
  }

  async get(key: string): Promise<string | null> {
    return this.data.get(key) ?? null;
  }

  async put(key: string, value: string): Promise<void> {
    this.data.set(key, value);
  }

  async close(): Promise<void> {}
}
