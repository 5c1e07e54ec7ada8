// Reads feature records from Workers KV: the active feature-set pointer, then user and item records
// in bulk (KV's bulk get takes at most 100 keys a call; calls run in parallel). A missing key is not
// an error - the assembler fills defaults - but a value that is not a JSON object is counted and
// treated as missing rather than trusted.
import { ACTIVE_KEY, parseActiveFeatureSet, type ActiveFeatureSet } from '../../model/features/kv-layout.ts';
import type { RawRecord } from '../../model/features/records.ts';

export const KV_BULK_LIMIT = 100;
/** How long an isolate trusts its copy of fs:active before reading it again (FEATURE_SET_REFRESH_MS). */
export const DEFAULT_ACTIVE_TTL_MS = 10_000;

export interface StoreCounters {
  corrupt_values: number;
}

export class FeatureStore {
  readonly counters: StoreCounters = { corrupt_values: 0 };
  private active: { value: ActiveFeatureSet | null; readAt: number } | undefined;

  constructor(
    private readonly kv: KVNamespace,
    private readonly activeTtlMs = DEFAULT_ACTIVE_TTL_MS,
  ) {}

  async activeFeatureSet(now = Date.now()): Promise<ActiveFeatureSet | null> {
    if (this.active && now - this.active.readAt < this.activeTtlMs) return this.active.value;
    const raw = await this.kv.get(ACTIVE_KEY, 'text');
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
    return value;
  }

  /** Values for `keys`, in the same order; null where a key is missing or its value is corrupt. */
  async getRecords(keys: readonly string[]): Promise<Array<RawRecord | null>> {
    const batches: Promise<Map<string, string | null>>[] = [];
    for (let start = 0; start < keys.length; start += KV_BULK_LIMIT) {
      batches.push(this.kv.get(keys.slice(start, start + KV_BULK_LIMIT), 'text'));
    }
    const results = await Promise.all(batches);
    return keys.map((key, i) => this.decode(results[Math.floor(i / KV_BULK_LIMIT)]!.get(key) ?? null));
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
