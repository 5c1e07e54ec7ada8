// Reads feature records from Workers KV: the active feature-set pointer, then user and item records
// through a per-isolate cache (record-cache.ts). Misses are read in bulk (KV's bulk get takes at
// most 100 keys a call; calls run in parallel), and a key already being read for another request is
// joined rather than read again (single flight). A stale entry is served while one background
// refresh per key runs (kept alive with ctx.waitUntil). A missing key is not an error - the
// assembler fills defaults - but a value that is not a JSON object is counted and treated as
// missing rather than trusted. Both are remembered for a shorter negative TTL. A bulk read that
// hangs is given up after readTimeoutMs, so a shared read can never stay in flight (and be joined)
// forever; the request that waits for it gives up much sooner, at its deadline (rank/deadline.ts).
import { ACTIVE_KEY, parseActiveFeatureSet, recordKey, type ActiveFeatureSet, type RecordKind } from '../../model/features/kv-layout.ts';
import type { RawRecord } from '../../model/features/records.ts';
import { SHARED_READ_TIMEOUT_MS, withTimeout } from '../rank/deadline.ts';
import { approximateBytes, DEFAULT_RECORD_CACHE, RecordCache, type CacheEntry, type RecordCacheOptions } from './record-cache.ts';

export const KV_BULK_LIMIT = 100;
/** How long an isolate trusts its copy of fs:active before reading it again (FEATURE_SET_REFRESH_MS). */
export const DEFAULT_ACTIVE_TTL_MS = 10_000;

export interface StoreCounters {
  corrupt_values: number;
  /** bulk gets sent to KV (request path and background refreshes) */
  kv_bulk_reads: number;
  /** keys asked of KV in those bulk gets */
  kv_keys_read: number;
  /** misses served by joining a read another request had already started */
  joined_reads: number;
  background_refreshes: number;
  refresh_failures: number;
}

export interface FeatureStoreOptions {
  /** how long fs:active is trusted, in ms */
  activeTtlMs: number;
  cache: RecordCacheOptions;
  /** the clock (ms); tests inject one */
  clock: () => number;
  /** where background refresh failures are reported */
  log: (message: string, error: unknown) => void;
  /** a KV bulk read not answered within this many ms fails (and leaves the single-flight map) */
  readTimeoutMs: number;
}

export interface ReadOptions {
  /** keeps background refreshes alive after the response is sent (ExecutionContext.waitUntil) */
  waitUntil?: ((promise: Promise<unknown>) => void) | undefined;
}

/** One bulk read of up to KV_BULK_LIMIT keys; `results` is set once it has arrived. */
interface Batch {
  promise: Promise<void>;
  results?: Map<string, RawRecord | null>;
}

/** Marks a key queued for a batch that is not started yet (so a duplicate key is read once). */
const PENDING: Batch = { promise: Promise.resolve() };

export class FeatureStore {
  readonly counters: StoreCounters = { corrupt_values: 0, kv_bulk_reads: 0, kv_keys_read: 0, joined_reads: 0, background_refreshes: 0, refresh_failures: 0 };
  readonly cache: RecordCache;
  private readonly options: FeatureStoreOptions;
  private active: { value: ActiveFeatureSet | null; readAt: number } | undefined;
  private readonly inflight = new Map<string, Batch>();

  constructor(
    private readonly kv: KVNamespace,
    options: Partial<FeatureStoreOptions> = {},
  ) {
    this.options = {
      activeTtlMs: options.activeTtlMs ?? DEFAULT_ACTIVE_TTL_MS,
      cache: options.cache ?? DEFAULT_RECORD_CACHE,
      clock: options.clock ?? Date.now,
      log: options.log ?? ((message, error) => console.error(message, error)),
      readTimeoutMs: options.readTimeoutMs ?? SHARED_READ_TIMEOUT_MS,
    };
    this.cache = new RecordCache(this.options.cache);
  }

  /** The live feature set; a new version scopes the record cache to it (dropping the old one). */
  async activeFeatureSet(now = this.options.clock()): Promise<ActiveFeatureSet | null> {
    if (this.active && now - this.active.readAt < this.options.activeTtlMs) return this.active.value;
    let raw = await this.kv.get(ACTIVE_KEY, 'text');
    // A pointer this isolate has seen that now reads as absent is read once more before every
    // request drops to defaults: nothing deletes it in normal operation, and Miniflare's local KV
    // answers null for a key another process is overwriting at that instant (the backfill's flip:
    // the reader's row points at a value blob the writer has just replaced).
    if (raw === null && this.active?.value) raw = await this.kv.get(ACTIVE_KEY, 'text');
    let value: ActiveFeatureSet | null = null;
    if (raw !== null) {
      try {
        value = parseActiveFeatureSet(JSON.parse(raw));
      } catch {
        value = null;
      }
      if (value === null) this.counters.corrupt_values++;
    }
    this.active = { value, readAt: now };
    this.cache.scope(value?.version ?? null);
    return value;
  }

  /**
   * Values for `keys`, in the same order; null where a key is missing or its value is corrupt.
   * Only keys of the active feature set (fs:<version>:...) are cached. Rejects if KV fails for a
   * key that is not cached; a failed background refresh keeps serving the stale value.
   */
  getRecords(keys: readonly string[], options: ReadOptions = {}): Promise<Array<RawRecord | null>> {
    const now = this.options.clock();
    return this.read(keys.length, (i) => this.cache.lookup(keys[i]!, now), (i) => keys[i]!, now, options);
  }

  /**
   * getRecords() of `fs:<version>:i:<id>` for each item id, then `fs:<version>:u:<userId>` if a
   * user is given. A cached record is found by its id (no key string is built for it); keys are
   * made only for what must be read from KV.
   */
  getSlateRecords(version: string, itemIds: readonly string[], userId: string | undefined, options: ReadOptions = {}): Promise<Array<RawRecord | null>> {
    const now = this.options.clock();
    const n = itemIds.length;
    const kind = (i: number): RecordKind => (i < n ? 'i' : 'u');
    const id = (i: number): string => (i < n ? itemIds[i]! : userId!);
    const keyAt = (i: number): string => recordKey(version, kind(i), id(i));
    const cached = this.cache.version === version;
    return this.read(n + (userId === undefined ? 0 : 1), (i) => (cached ? this.cache.lookupId(kind(i), id(i), now) : this.cache.lookup(keyAt(i), now)), keyAt, now, options);
  }

  /** The `count` values: each entry found by lookupAt(i), misses read from KV under keyAt(i). */
  private async read(count: number, lookupAt: (i: number) => CacheEntry | undefined, keyAt: (i: number) => string, now: number, options: ReadOptions): Promise<Array<RawRecord | null>> {
    const out: Array<RawRecord | null> = new Array<RawRecord | null>(count);
    let misses: number[] | undefined;
    let stale: string[] | undefined;
    for (let i = 0; i < count; i++) {
      const entry = lookupAt(i);
      if (entry === undefined) {
        (misses ??= []).push(i);
        continue;
      }
      out[i] = entry.value;
      if (now >= entry.freshUntil && !entry.refreshing) {
        entry.refreshing = true;
        (stale ??= []).push(entry.key);
      }
    }
    if (stale) this.refreshInBackground(stale, options);
    if (misses) {
      const keys: string[] = new Array<string>(count);
      for (const i of misses) keys[i] = keyAt(i);
      await this.readMisses(keys, misses, out, now, options);
    }
    return out;
  }

  /** Drops every cached record (and, with `active`, the fs:active pointer): for cold-cache benchmarks. */
  flush(options: { active?: boolean } = {}): number {
    if (options.active) this.active = undefined;
    return this.cache.clear();
  }

  private async readMisses(keys: readonly string[], misses: number[], out: Array<RawRecord | null>, now: number, options: ReadOptions): Promise<void> {
    let chunk: string[] = [];
    for (const i of misses) {
      const key = keys[i]!;
      const batch = this.inflight.get(key);
      if (batch !== undefined) {
        // read by another request (or earlier in this one): join it
        if (batch !== PENDING) this.counters.joined_reads++;
        continue;
      }
      this.inflight.set(key, PENDING);
      chunk.push(key);
      if (chunk.length === KV_BULK_LIMIT) {
        this.startBatch(chunk, now, options);
        chunk = [];
      }
    }
    if (chunk.length > 0) this.startBatch(chunk, now, options);
    // Every miss now has a batch in flight: its own or one another request started.
    const batches = misses.map((i) => this.inflight.get(keys[i]!)!);
    await Promise.all([...new Set(batches)].map((b) => b.promise));
    misses.forEach((i, j) => {
      out[i] = batches[j]!.results!.get(keys[i]!) ?? null;
    });
  }

  private startBatch(keys: string[], now: number, options: ReadOptions): void {
    const version = this.cache.version;
    const batch: Batch = { promise: Promise.resolve() };
    batch.promise = (async () => {
      try {
        const texts = await this.bulkGet(keys);
        const results = new Map<string, RawRecord | null>();
        for (const key of keys) {
          const text = texts.get(key) ?? null;
          const value = this.decode(text);
          results.set(key, value);
          this.remember(version, key, value, text, now);
        }
        batch.results = results;
      } finally {
        for (const key of keys) if (this.inflight.get(key) === batch) this.inflight.delete(key);
      }
    })();
    for (const key of keys) this.inflight.set(key, batch);
    // Other requests may join this read after the one that started it has answered (e.g. at its
    // deadline): keep the starting request alive until the read settles, and caches it fills.
    options.waitUntil?.(batch.promise.catch(() => undefined));
  }

  private refreshInBackground(keys: string[], options: ReadOptions): void {
    const version = this.cache.version;
    const chunks: Promise<void>[] = [];
    for (let start = 0; start < keys.length; start += KV_BULK_LIMIT) {
      const chunk = keys.slice(start, start + KV_BULK_LIMIT);
      this.counters.background_refreshes += chunk.length;
      chunks.push(
        this.bulkGet(chunk).then(
          (texts) => {
            const now = this.options.clock();
            for (const key of chunk) {
              const text = texts.get(key) ?? null;
              this.remember(version, key, this.decode(text), text, now);
            }
          },
          (error: unknown) => {
            this.counters.refresh_failures++;
            // Serve the stale values until they expire; the next request past TTL tries again.
            for (const key of chunk) {
              const entry: CacheEntry | undefined = this.cache.peek(key);
              if (entry) entry.refreshing = false;
            }
            this.options.log('feature cache refresh failed', error);
          },
        ),
      );
    }
    const done = Promise.all(chunks);
    if (options.waitUntil) options.waitUntil(done);
  }

  /** Caches a value read for `version` unless fs:active has moved on since the read started. */
  private remember(version: string | null, key: string, value: RawRecord | null, text: string | null, now: number): void {
    if (version === null || this.cache.version !== version || !isKeyOf(version, key)) return;
    this.cache.set(key, value, approximateBytes(key, text?.length ?? 0), now);
  }

  private bulkGet(keys: string[]): Promise<Map<string, string | null>> {
    this.counters.kv_bulk_reads++;
    this.counters.kv_keys_read += keys.length;
    return withTimeout(this.kv.get(keys, 'text'), this.options.readTimeoutMs, `KV bulk read of ${keys.length} keys`);
  }

  private decode(text: string | null): RawRecord | null {
    if (text === null) return null;
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as RawRecord;
    } catch {
      // fall through: counted below
    }
    this.counters.corrupt_values++;
    return null;
  }
}

/** Whether `key` is a record key of feature set `version` (fs:<version>:...). */
function isKeyOf(version: string, key: string): boolean {
  return key.length > version.length + 4 && key.startsWith('fs:') && key.startsWith(version, 3) && key.charCodeAt(3 + version.length) === 58; // ':'
}
