// The worker's fast path for a map_lookup cross of a slate-wide table by an item field - e.g. the
// user's affinity to the item's category (user.category_affinity[item.category]). Computed row by
// row, each value costs a lookup of the table, of the item's key and of the key in the table, all
// through property reads that see a different field or key at every call (megamorphic in V8): with
// three such crosses they were a quarter of a 100-item slate's feature time. Instead:
//  - the item's key is interned once per stored record (KeyInterner; its index is kept in the
//    record's memo beside the other item-only columns, see FeatureAssembler);
//  - per slate, the table's own entries are encoded once, by interned key (TableCross.prepare);
//  - per row, the item's key index picks its value; a key the table lacks gets the default.
// Generation stamps mark this slate's entries, so a slate costs O(entries of the table) however
// many keys have been interned. The values are those of the row-by-row lookup; only a malformed
// table value is counted once per slate instead of once per row that reads it.
import type { FeatureQualityCounters } from './values.ts';
import { compileTransform, keyOf, numberOf } from './values.ts';
import type { CrossFeature } from './manifest.ts';
import type { RawRecord, RawValue } from './records.ts';

type MapLookupFeature = Extract<CrossFeature, { op: 'map_lookup' }>;

/** Lookup keys by a dense 1-based index; 0 stands for "no index" (no key, or the interner is full). */
export class KeyInterner {
  private readonly index = new Map<string, number>();

  /** bounded: keys may come from request fields, which anyone can send */
  constructor(readonly capacity = 1 << 16) {}

  get size(): number {
    return this.index.size;
  }

  /** The key's index, interning a new key while there is room (else 0). */
  intern(key: string): number {
    let i = this.index.get(key);
    if (i === undefined) {
      if (this.index.size >= this.capacity) return 0;
      i = this.index.size + 1;
      this.index.set(key, i);
    }
    return i;
  }

  /** The index of a key interned before, else 0. */
  find(key: string): number {
    return this.index.get(key) ?? 0;
  }
}

export class TableCross {
  private readonly transform: (x: number) => number;
  private readonly fallback: number;
  private readonly defaultValue: number;
  private values = new Float64Array(0);
  private stamps = new Uint32Array(0);
  private generation = 0;
  /** false when this slate's table is not an object: the row-by-row path counts and defaults it */
  usable = false;

  constructor(
    spec: MapLookupFeature,
    private readonly table: (slate: { user?: RawRecord | undefined; context: RawRecord }) => RawValue | undefined,
    private readonly interner: KeyInterner,
    private readonly counters: FeatureQualityCounters,
    /** the memo slot that holds the item's key index */
    readonly keySlot: number,
  ) {
    this.transform = compileTransform(spec.transform);
    this.fallback = spec.default;
    this.defaultValue = this.transform(this.fallback);
  }

  /** Whether a spec can take this path: a table of the user or the context, a key of the item's stored or inline fields. */
  static applies(spec: CrossFeature): spec is MapLookupFeature {
    return spec.op === 'map_lookup' && (spec.map.source === 'user' || spec.map.source === 'context') && spec.key.source === 'item' && spec.key.field !== 'id';
  }

  /** Encodes this slate's table by key; call after every row's key has been interned. */
  prepare(slate: { user?: RawRecord | undefined; context: RawRecord }): void {
    const table = this.table(slate);
    this.usable = table === undefined || table === null || (typeof table === 'object' && !Array.isArray(table));
    if (!this.usable) return;
    const size = this.interner.size + 1;
    if (this.values.length < size) {
      const capacity = Math.max(size, 2 * this.values.length, 64);
      this.values = new Float64Array(capacity);
      this.stamps = new Uint32Array(capacity);
      this.generation = 0;
    }
    if (++this.generation === 0xffffffff) {
      this.stamps.fill(0);
      this.generation = 1;
    }
    if (table === undefined || table === null) return;
    const entries = table as RawRecord;
    for (const key in entries) {
      const i = this.interner.find(key);
      if (i === 0) continue; // no item of any slate so far has this key
      this.values[i] = this.transform(numberOf(entries[key], this.fallback, this.counters));
      this.stamps[i] = this.generation;
    }
  }

  /** The encoded value for the key with this (non-zero) index, in the slate last prepared. */
  valueAt(index: number): number {
    return this.stamps[index] === this.generation ? this.values[index]! : this.defaultValue;
  }
}

/**
 * A map_lookup cross of the item's own table by a slate-wide key - e.g. the item's click rate with
 * the user's segment (item.segment_coec[user.segment]). Its value depends on the record and the
 * key alone, and the key takes few values (segments, devices), so each record's memo keeps one
 * slot per key value (up to KEYS), NaN until a slate with that key reads it. Row by row, these
 * reads see a different table shape at every item (megamorphic in V8): in Node the two such crosses
 * of the shipped model took 50 us of a 100-item slate.
 */
export class ItemTableCross {
  static readonly KEYS = 8;
  /** the key values met so far; a ninth gets no slot and is looked up row by row */
  private readonly keys = new KeyInterner(ItemTableCross.KEYS);
  /** counts nothing: the row-by-row path counts a malformed key, as it always did */
  private readonly quiet: FeatureQualityCounters = { invalid: 0 };
  /** this slate's key (1-based), 0 when it has no slot */
  keyIndex = 0;

  constructor(
    private readonly key: (slate: { user?: RawRecord | undefined; context: RawRecord }) => RawValue | undefined,
    /** the memo slot of the first key value */
    readonly firstSlot: number,
  ) {}

  static applies(spec: CrossFeature): spec is MapLookupFeature {
    return spec.op === 'map_lookup' && spec.map.source === 'item' && spec.map.field !== 'id' && (spec.key.source === 'user' || spec.key.source === 'context');
  }

  prepare(slate: { user?: RawRecord | undefined; context: RawRecord }): void {
    const key = keyOf(this.key(slate), this.quiet);
    this.keyIndex = key === undefined ? 0 : this.keys.intern(key);
  }
}
