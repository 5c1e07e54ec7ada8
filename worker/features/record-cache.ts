// The per-isolate cache of decoded feature records in front of KV: an LRU bounded by entry count and
// by approximate bytes, with a TTL, stale-while-revalidate and negative entries for missing keys.
//
// Values are kept decoded (the parsed RawRecord, or null for a missing/corrupt key), so a hit costs
// a Map lookup and a list splice, never a JSON parse. Recency is an intrusive doubly linked list, so
// a hit allocates nothing. The cache only holds keys of one feature-set version (`scope`); a new
// version drops every entry at once, so records of an old version are never served after a flip.
// What goes over the network (batching, single flight, background refresh) is FeatureStore's job.
import { versionPrefix } from '../../model/features/kv-layout.ts';
import type { RawRecord } from '../../model/features/records.ts';

export interface RecordCacheOptions {
  /** how long a value is fresh, in ms; 0 disables the cache */
  ttlMs: number;
  /** how long after going stale a value may still be served while one background refresh runs */
  staleMs: number;
  /** how long a missing (or corrupt) key is remembered as missing */
  negativeTtlMs: number;
  /** at most this many entries */
  maxEntries: number;
  /** at most about this many bytes of decoded records (see approximateBytes) */
  maxBytes: number;
}

/** Sized for Workers' 128 MB isolate: the ORT wasm heap and the request path need the rest. */
export const DEFAULT_RECORD_CACHE: RecordCacheOptions = {
  ttlMs: 60_000,
  staleMs: 300_000,
  negativeTtlMs: 10_000,
  maxEntries: 100_000,
  maxBytes: 32 * 1024 * 1024,
};

export interface RecordCacheStats {
  hits: number;
  stale_hits: number;
  negative_hits: number;
  misses: number;
  evictions: number;
  expired: number;
  /** entries dropped because fs:active moved to another version */
  version_drops: number;
}

export interface CacheEntry {
  readonly key: string;
  /** the key split as the cache files it (see RecordCache.split) */
  readonly kind: string;
  readonly id: string;
  value: RawRecord | null;
  bytes: number;
  freshUntil: number;
  staleUntil: number;
  /** a background refresh of this key is in flight (serve stale, do not start another) */
  refreshing: boolean;
  prev: CacheEntry | null;
  next: CacheEntry | null;
}

/**
 * Approximate heap cost of a decoded record: the key, about two bytes of heap per byte of JSON, and
 * the entry itself. Measured in V8 (Node 20) for commerce-v1 records: ~370 bytes per item entry
 * whose JSON is 167 characters (~360 for a user's 232); this formula says ~500 and ~630, i.e. it
 * errs on the high side.
 */
export function approximateBytes(key: string, jsonLength: number): number {
  return 128 + key.length + 2 * jsonLength;
}

export class RecordCache {
  readonly stats: RecordCacheStats = { hits: 0, stale_hits: 0, negative_hits: 0, misses: 0, evictions: 0, expired: 0, version_drops: 0 };
  /**
   * Entries by kind, then id: a key of the scoped version, `fs:<version>:<kind>:<id>`, is filed
   * under its kind and id, so a slate's records are found by the ids in the request (lookupId) with
   * no key string built and hashed per item (about 0.25 us each in V8, a quarter of the record
   * reads' cost at 100 items). Any other key is filed whole under kind ''.
   */
  private readonly byKind = new Map<string, Map<string, CacheEntry>>();
  private count = 0;
  /** `fs:<version>:` of the scoped version */
  private prefix: string | null = null;
  /** most recently used */
  private head: CacheEntry | null = null;
  /** least recently used: evicted first */
  private tail: CacheEntry | null = null;
  private totalBytes = 0;
  private currentVersion: string | null = null;

  constructor(readonly options: RecordCacheOptions) {}

  get enabled(): boolean {
    return this.options.ttlMs > 0 && this.options.maxEntries > 0 && this.options.maxBytes > 0;
  }

  get size(): number {
    return this.count;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** The feature-set version whose records the cache holds. */
  get version(): string | null {
    return this.currentVersion;
  }

  /** Switches to `version`; a different version than before drops every entry. */
  scope(version: string | null): void {
    if (version === this.currentVersion) return;
    this.stats.version_drops += this.count;
    this.clear();
    this.currentVersion = version;
    this.prefix = version === null ? null : versionPrefix(version);
  }

  /**
   * The entry for `key` if it may be served at `now` (fresh, or stale but within staleMs), marked
   * most recently used; undefined on a miss. Entries past their stale window are removed.
   */
  lookup(key: string, now: number): CacheEntry | undefined {
    const [kind, id] = this.split(key);
    return this.lookupId(kind, id, now);
  }

  /** lookup() of `fs:<version>:<kind>:<id>` for the scoped version, without building that key. */
  lookupId(kind: string, id: string, now: number): CacheEntry | undefined {
    const entry = this.byKind.get(kind)?.get(id);
    if (entry === undefined) {
      this.stats.misses++;
      return undefined;
    }
    if (now >= entry.staleUntil) {
      this.stats.expired++;
      this.stats.misses++;
      this.remove(entry);
      return undefined;
    }
    if (now >= entry.freshUntil) this.stats.stale_hits++;
    else if (entry.value === null) this.stats.negative_hits++;
    else this.stats.hits++;
    this.touch(entry);
    return entry;
  }

  /** The entry for `key` without touching recency or statistics. */
  peek(key: string): CacheEntry | undefined {
    const [kind, id] = this.split(key);
    return this.byKind.get(kind)?.get(id);
  }

  /** Stores a value (null: known missing) read from KV at `now`; evicts LRU entries over budget. */
  set(key: string, value: RawRecord | null, bytes: number, now: number): void {
    if (!this.enabled) return;
    const ttl = value === null ? Math.min(this.options.negativeTtlMs, this.options.ttlMs) : this.options.ttlMs;
    if (ttl <= 0) return;
    const freshUntil = now + ttl;
    const staleUntil = freshUntil + this.options.staleMs;
    const [kind, id] = this.split(key);
    let ids = this.byKind.get(kind);
    if (ids === undefined) this.byKind.set(kind, (ids = new Map()));
    let entry = ids.get(id);
    if (entry !== undefined) {
      this.totalBytes += bytes - entry.bytes;
      entry.value = value;
      entry.bytes = bytes;
      entry.freshUntil = freshUntil;
      entry.staleUntil = staleUntil;
      entry.refreshing = false;
      this.touch(entry);
    } else {
      entry = { key, kind, id, value, bytes, freshUntil, staleUntil, refreshing: false, prev: null, next: this.head };
      if (this.head) this.head.prev = entry;
      this.head = entry;
      if (!this.tail) this.tail = entry;
      ids.set(id, entry);
      this.count++;
      this.totalBytes += bytes;
    }
    while (this.tail && (this.count > this.options.maxEntries || this.totalBytes > this.options.maxBytes)) {
      this.stats.evictions++;
      this.remove(this.tail);
    }
  }

  /** Removes every entry (the version stays). Returns how many were dropped. */
  clear(): number {
    const n = this.count;
    this.byKind.clear();
    this.count = 0;
    this.head = null;
    this.tail = null;
    this.totalBytes = 0;
    return n;
  }

  /** Keys from most to least recently used (for tests and diagnostics). */
  keys(): string[] {
    const out: string[] = [];
    for (let e = this.head; e; e = e.next) out.push(e.key);
    return out;
  }

  private touch(entry: CacheEntry): void {
    if (entry === this.head) return;
    // unlink (entry is not the head, so it has a prev)
    entry.prev!.next = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else this.tail = entry.prev;
    // push front
    entry.prev = null;
    entry.next = this.head;
    this.head!.prev = entry;
    this.head = entry;
  }

  private remove(entry: CacheEntry): void {
    if (entry.prev) entry.prev.next = entry.next;
    else this.head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else this.tail = entry.prev;
    entry.prev = entry.next = null;
    this.byKind.get(entry.kind)?.delete(entry.id);
    this.count--;
    this.totalBytes -= entry.bytes;
  }

  /** [kind, id] of a key of the scoped version, else ['', key]. */
  private split(key: string): [string, string] {
    const prefix = this.prefix;
    if (prefix !== null && key.startsWith(prefix)) {
      const colon = key.indexOf(':', prefix.length);
      if (colon > prefix.length) return [key.slice(prefix.length, colon), key.slice(colon + 1)];
    }
    return ['', key];
  }
}
