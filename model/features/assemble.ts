// The one feature module shared by trainer (Node) and worker (workerd): it turns raw user, item and
// context records into the model's input tensors, driven only by the manifest. Nothing here may use
// a Node or Workers API.
import { fnv1a32 } from './hash.ts';
import type { FeatureSpec, FieldRef, InputDType, Manifest } from './manifest.ts';
import type { RawRecord, RawValue } from './records.ts';
import { ItemTableCross, KeyInterner, TableCross } from './table-cross.ts';
import { compileTransform, keyOf, numberOf, type FeatureQualityCounters } from './values.ts';

export type { FeatureQualityCounters } from './values.ts';

/** One slate row: the item's KV record and the fields sent inline with the request. */
export interface ItemRow {
  id: string;
  stored?: RawRecord | undefined;
  inline?: RawRecord | undefined;
}

export interface SlateRecords {
  userId?: string | undefined;
  user?: RawRecord | undefined;
  context: RawRecord;
  items: readonly ItemRow[];
}

export type InputBuffer = Float32Array | Int32Array | BigInt64Array;

export interface AssembledInput {
  name: string;
  dtype: InputDType;
  width: number;
  data: InputBuffer;
}

type Encoder = (slate: SlateRecords, row: number) => number;
/** A field reference compiled into a closure that reads that one field (no switch per value). */
type Getter = (slate: SlateRecords, row: number) => RawValue | undefined;

interface CompiledColumn {
  encode: Encoder;
  /** true when the value depends on the item (so it is computed per row) */
  perItem: boolean;
  /** its place in a record's memo vector (FeatureAssembler's memoizeItemColumns), or -1 */
  memoSlot: number;
  /** the slate-table fast path of a user/context map looked up by an item field (memoizeItemColumns) */
  table?: TableCross;
  /** the memo path of an item's map looked up by a user/context field (memoizeItemColumns) */
  itemTable?: ItemTableCross;
}

interface CompiledInput {
  name: string;
  dtype: InputDType;
  columns: CompiledColumn[];
}

/** The raw value a field reference names for one row of a slate (before defaults and transforms). */
export function resolve(ref: FieldRef, slate: SlateRecords, row: number): RawValue | undefined {
  switch (ref.source) {
    case 'user':
      return ref.field === 'id' ? slate.userId : slate.user?.[ref.field];
    case 'context':
      return slate.context[ref.field];
    case 'request': {
      const item = slate.items[row];
      return ref.field === 'id' ? item?.id : item?.inline?.[ref.field];
    }
    case 'item': {
      const item = slate.items[row];
      if (!item) return undefined;
      if (ref.field === 'id') return item.id;
      // A value sent with the request (e.g. today's price) wins over the backfilled one.
      const inline = item.inline?.[ref.field];
      return inline !== undefined ? inline : item.stored?.[ref.field];
    }
  }
}

/** `resolve` specialised for one reference when the manifest is compiled: the hot path of `fill`. */
function compileRef(ref: FieldRef): Getter {
  const field = ref.field;
  switch (ref.source) {
    case 'user':
      return field === 'id' ? (slate) => slate.userId : (slate) => slate.user?.[field];
    case 'context':
      return (slate) => slate.context[field];
    case 'request':
      return field === 'id' ? (slate, row) => slate.items[row]?.id : (slate, row) => slate.items[row]?.inline?.[field];
    case 'item':
      if (field === 'id') return (slate, row) => slate.items[row]?.id;
      return (slate, row) => {
        const item = slate.items[row];
        if (item === undefined) return undefined;
        // A value sent with the request (e.g. today's price) wins over the backfilled one.
        const inline = item.inline?.[field];
        return inline !== undefined ? inline : item.stored?.[field];
      };
  }
}

/** The field references a feature reads. */
function refsOf(spec: FeatureSpec): FieldRef[] {
  if (spec.kind !== 'cross') return [spec.from];
  return spec.op === 'map_lookup' ? [spec.map, spec.key] : [spec.numerator, spec.denominator];
}

/** The value depends on the item's stored (or inline) fields alone: the same for every slate that carries that record. */
function itemFieldsOnly(spec: FeatureSpec): boolean {
  return refsOf(spec).every((r) => r.source === 'item' && r.field !== 'id');
}

function dependsOnItem(spec: FeatureSpec): boolean {
  return refsOf(spec).some((r) => r.source === 'item' || r.source === 'request');
}

function compileFeature(spec: FeatureSpec, counters: FeatureQualityCounters): Encoder {
  const asNumber = (v: RawValue | undefined, fallback: number): number => numberOf(v, fallback, counters);
  const asKey = (v: RawValue | undefined): string | undefined => keyOf(v, counters);

  switch (spec.kind) {
    case 'numeric': {
      const transform = compileTransform(spec.transform);
      const from = compileRef(spec.from);
      const fallback = spec.default;
      return (slate, row) => transform(asNumber(from(slate, row), fallback));
    }
    case 'categorical': {
      const from = compileRef(spec.from);
      if (spec.vocab) {
        const index = new Map<string, number>(spec.vocab.map((value, i) => [value, i + 1]));
        return (slate, row) => {
          const key = asKey(from(slate, row));
          return key === undefined ? 0 : (index.get(key) ?? 0);
        };
      }
      const buckets = spec.hash_buckets!;
      return (slate, row) => {
        const key = asKey(from(slate, row));
        return key === undefined ? 0 : 1 + (fnv1a32(key) % buckets);
      };
    }
    case 'cross': {
      const transform = compileTransform(spec.transform);
      const fallback = spec.default;
      if (spec.op === 'map_lookup') {
        const map = compileRef(spec.map);
        const key = compileRef(spec.key);
        return (slate, row) => {
          const table = map(slate, row);
          const k = asKey(key(slate, row));
          let value = fallback;
          if (k !== undefined && table !== undefined && table !== null) {
            if (typeof table === 'object' && !Array.isArray(table)) {
              value = asNumber((table as RawRecord)[k], fallback);
            } else {
              counters.invalid++;
            }
          }
          return transform(value);
        };
      }
      const numerator = compileRef(spec.numerator);
      const denominator = compileRef(spec.denominator);
      return (slate, row) => {
        const a = asNumber(numerator(slate, row), Number.NaN);
        const b = asNumber(denominator(slate, row), Number.NaN);
        const ratio = a > 0 && b > 0 ? Math.log(a / b) : fallback;
        return transform(ratio);
      };
    }
  }
}

export interface AssemblerOptions {
  /**
   * For a server whose record cache hands out the same immutable objects request after request (the
   * worker); a trainer builds fresh records per slate and leaves it off.
   *  - Remember, per stored item record, the encoded values of the columns that depend on that
   *    record alone (e.g. the item's rating, category), and reuse them for every slate that carries
   *    the same record object. A column that reads a field the request sends inline for that item
   *    (a storefront sends today's price) is computed afresh for that row; the others still come
   *    from the memo.
   *  - Crosses between a slate-wide table and an item key, or an item's table and a slate-wide
   *    key, take the paths of table-cross.ts (per-slate table encoding; per-record slots by key).
   * A malformed value in a remembered column is counted once per record (or table), not per slate.
   */
  memoizeItemColumns?: boolean;
}

/**
 * A manifest compiled into encoders. Build once per model and reuse for every slate: the worker
 * keeps one per model per isolate, the trainer one per run.
 */
export class FeatureAssembler {
  readonly counters: FeatureQualityCounters = { invalid: 0 };
  private readonly compiled: CompiledInput[];
  private readonly featureNames: string[][];
  /** stored record -> its memoized columns' values, by memoSlot */
  private readonly itemMemo: WeakMap<RawRecord, Float32Array> | undefined;
  /** the memoized columns, by memoSlot */
  private readonly memoColumns: CompiledColumn[] = [];
  /** memo slots by the item field they read: what an inline field of that name overrides */
  private readonly memoSlotsByField = new Map<string, number[]>();
  /** per-row memo vectors of the slate being filled (reused between fills) */
  private rowMemo: Array<Float32Array | undefined> = [];
  /** per-row copies of a memo vector with the inline-overridden slots recomputed (reused between fills) */
  private rowScratch: Float32Array[] = [];
  /** the keys of the table crosses' item fields (table-cross.ts), by index */
  private readonly keys = new KeyInterner();
  private readonly tables: TableCross[] = [];
  /** the item-table crosses with their row-by-row encoders (which fill their memo slots) */
  private readonly itemTables: Array<{ cross: ItemTableCross; encode: Encoder }> = [];

  constructor(
    readonly manifest: Manifest,
    options: AssemblerOptions = {},
  ) {
    const specs = new Map(manifest.features.map((f) => [f.name, f]));
    this.featureNames = manifest.inputs.map((input) => input.features);
    this.compiled = manifest.inputs.map((input) => ({
      name: input.name,
      dtype: input.dtype,
      columns: input.features.map((name) => {
        const spec = specs.get(name);
        if (!spec) throw new Error(`input ${input.name} names unknown feature ${name}`);
        const column: CompiledColumn = { encode: compileFeature(spec, this.counters), perItem: dependsOnItem(spec), memoSlot: -1 };
        // The memo keeps float32 (half the memory), which is exact: numeric values only fill float32
        // inputs (parseManifest), categorical indices are integers of at most 2^24.
        if (options.memoizeItemColumns && itemFieldsOnly(spec)) column.memoSlot = this.addMemoColumn(column.encode, refsOf(spec));
        if (options.memoizeItemColumns && spec.kind === 'cross' && TableCross.applies(spec)) {
          // the item's key index is remembered with its record like an item-only column
          const key = compileRef(spec.key);
          const keys = this.keys;
          const counters = this.counters;
          const keySlot = this.addMemoColumn((slate, row) => {
            const k = keyOf(key(slate, row), counters);
            return k === undefined ? 0 : keys.intern(k);
          }, [spec.key]);
          const table = compileRef(spec.map);
          column.table = new TableCross(spec, (slate) => table(slate as SlateRecords, 0), keys, counters, keySlot);
          this.tables.push(column.table);
        }
        if (options.memoizeItemColumns && spec.kind === 'cross' && ItemTableCross.applies(spec)) {
          // one memo slot per value of the slate's key, empty (NaN) until a slate with that value reads it
          const firstSlot = this.memoColumns.length;
          for (let k = 0; k < ItemTableCross.KEYS; k++) this.addMemoColumn(() => Number.NaN, [spec.map]);
          const key = compileRef(spec.key);
          column.itemTable = new ItemTableCross((slate) => key(slate as SlateRecords, 0), firstSlot);
          this.itemTables.push({ cross: column.itemTable, encode: column.encode });
        }
        return column;
      }),
    }));
    this.itemMemo = this.memoColumns.length > 0 ? new WeakMap() : undefined;
  }

  /** Appends a column of the item's stored fields to the memo vector; returns its slot. */
  private addMemoColumn(encode: Encoder, refs: FieldRef[]): number {
    const slot = this.memoColumns.length;
    this.memoColumns.push({ encode, perItem: true, memoSlot: slot });
    for (const ref of refs) {
      const slots = this.memoSlotsByField.get(ref.field) ?? [];
      if (!slots.includes(slot)) slots.push(slot);
      this.memoSlotsByField.set(ref.field, slots);
    }
    return slot;
  }

  /** Input layout: names, dtypes and widths, in manifest order. */
  get inputs(): ReadonlyArray<{ name: string; dtype: InputDType; width: number; features: readonly string[] }> {
    return this.compiled.map((c, i) => ({ name: c.name, dtype: c.dtype, width: c.columns.length, features: this.featureNames[i]! }));
  }

  /** Buffers big enough for `rows` rows; callers may keep and reuse them. */
  allocate(rows: number): AssembledInput[] {
    return this.compiled.map((c) => {
      const size = rows * c.columns.length;
      const data = c.dtype === 'float32' ? new Float32Array(size) : c.dtype === 'int32' ? new Int32Array(size) : new BigInt64Array(size);
      return { name: c.name, dtype: c.dtype, width: c.columns.length, data };
    });
  }

  /**
   * Fills rows [rowOffset, rowOffset + slate.items.length) of `buffers` for one slate. User- and
   * context-only columns are computed once per slate, item columns once per row.
   */
  fill(slate: SlateRecords, buffers: AssembledInput[], rowOffset = 0): void {
    const n = slate.items.length;
    // the slate's key of each item-table cross first: memoRows fills the records' slots for it
    for (const { cross } of this.itemTables) cross.prepare(slate);
    const memo = this.itemMemo ? this.memoRows(slate) : undefined;
    // after memoRows, which interned every row's keys
    for (const table of this.tables) table.prepare(slate);
    for (let b = 0; b < this.compiled.length; b++) {
      const input = this.compiled[b]!;
      const buffer = buffers[b]!;
      const width = input.columns.length;
      if ((rowOffset + n) * width > buffer.data.length) {
        throw new Error(`buffer ${input.name} holds ${buffer.data.length / width} rows, needs ${rowOffset + n}`);
      }
      // The buffer's element type is checked once per input, not once per value.
      const data = buffer.data;
      if (data instanceof BigInt64Array) fillBigInt(input.columns, slate, data, n, width, rowOffset, memo);
      else fillNumbers(input.columns, slate, data, n, width, rowOffset, memo);
    }
  }

  /**
   * Each row's memo vector: found by its stored record (computed on first sight from the record
   * alone), with the slots that read a field sent inline for that row recomputed in a per-row copy;
   * none for a row without a stored record.
   */
  private memoRows(slate: SlateRecords): Array<Float32Array | undefined> {
    const memo = this.itemMemo!;
    const rows = this.rowMemo;
    rows.length = slate.items.length;
    for (let r = 0; r < slate.items.length; r++) {
      const item = slate.items[r]!;
      const stored = item.stored;
      if (stored === undefined || stored === null || typeof stored !== 'object') {
        rows[r] = undefined;
        continue;
      }
      // memo values come from the record alone (recordOnly), whatever this row sends inline
      const row = item.inline === undefined ? r : 0;
      let values = memo.get(stored);
      if (values === undefined) {
        const view = recordOnly(slate, r);
        values = new Float32Array(this.memoColumns.length);
        for (let k = 0; k < values.length; k++) values[k] = this.memoColumns[k]!.encode(view, row);
        memo.set(stored, values);
      }
      for (const { cross, encode } of this.itemTables) {
        const slot = cross.firstSlot + cross.keyIndex - 1;
        // the record's value for this slate's key, on the first slate with that key
        if (cross.keyIndex > 0 && values[slot] !== values[slot]) values[slot] = encode(recordOnly(slate, r), row);
      }
      rows[r] = item.inline === undefined ? values : this.withInline(slate, r, item.inline, values);
    }
    return rows;
  }

  /** `values`, or a per-row copy of it whose slots reading an inline field are encoded from this row. */
  private withInline(slate: SlateRecords, r: number, inline: RawRecord, values: Float32Array): Float32Array {
    let scratch: Float32Array | undefined;
    for (const field in inline) {
      if (inline[field] === undefined) continue; // not an override: the stored value is read
      const slots = this.memoSlotsByField.get(field);
      if (slots === undefined) continue;
      if (scratch === undefined) {
        scratch = this.rowScratch[r] ??= new Float32Array(values.length);
        scratch.set(values);
      }
      for (const slot of slots) scratch[slot] = this.memoColumns[slot]!.encode(slate, r);
    }
    return scratch ?? values;
  }

  /** The encoded values of one row, by feature name: for explain output and exposure logs. */
  rowValues(buffers: AssembledInput[], row: number): Record<string, number> {
    const values: Record<string, number> = {};
    buffers.forEach((buffer, b) => {
      const names = this.featureNames[b]!;
      for (let c = 0; c < buffer.width; c++) values[names[c]!] = Number(buffer.data[row * buffer.width + c]);
    });
    return values;
  }
}

/**
 * Row r of the slate as its stored record alone, for values the memo keeps for every later slate:
 * the slate itself when the row sends nothing inline, else a one-row slate without the inline
 * fields (row 0; made only on a record's first slate, or its first with a new key).
 */
function recordOnly(slate: SlateRecords, r: number): SlateRecords {
  const item = slate.items[r]!;
  return item.inline === undefined ? slate : { ...slate, items: [{ id: item.id, stored: item.stored }] };
}

/** Column by column: user/context columns are encoded once and broadcast, item columns per row. */
function fillNumbers(columns: CompiledColumn[], slate: SlateRecords, data: Float32Array | Int32Array, n: number, width: number, rowOffset: number, memo: Array<Float32Array | undefined> | undefined): void {
  for (let c = 0; c < width; c++) {
    const column = columns[c]!;
    const encode = column.encode;
    let index = rowOffset * width + c;
    const slot = column.memoSlot;
    if (memo !== undefined && slot >= 0) {
      for (let r = 0; r < n; r++, index += width) {
        const values = memo[r];
        data[index] = values !== undefined ? values[slot]! : encode(slate, r);
      }
    } else if (memo !== undefined && column.table !== undefined && column.table.usable) {
      const table = column.table;
      const keySlot = table.keySlot;
      for (let r = 0; r < n; r++, index += width) {
        const values = memo[r];
        const key = values !== undefined ? values[keySlot]! : 0;
        data[index] = key > 0 ? table.valueAt(key) : encode(slate, r);
      }
    } else if (memo !== undefined && column.itemTable !== undefined && column.itemTable.keyIndex > 0) {
      const slot = column.itemTable.firstSlot + column.itemTable.keyIndex - 1;
      for (let r = 0; r < n; r++, index += width) {
        const values = memo[r];
        if (values === undefined) {
          data[index] = encode(slate, r);
          continue;
        }
        const value = values[slot]!;
        // NaN: the row sends the item's table inline (memoRows fills the slot for every other row)
        data[index] = value === value ? value : encode(slate, r);
      }
    } else if (column.perItem) {
      for (let r = 0; r < n; r++, index += width) data[index] = encode(slate, r);
    } else {
      const value = encode(slate, 0);
      for (let r = 0; r < n; r++, index += width) data[index] = value;
    }
  }
}

/** fillNumbers for int64 inputs, which hold categorical indices only: no table-cross paths (crosses are numeric). */
function fillBigInt(columns: CompiledColumn[], slate: SlateRecords, data: BigInt64Array, n: number, width: number, rowOffset: number, memo: Array<Float32Array | undefined> | undefined): void {
  for (let c = 0; c < width; c++) {
    const column = columns[c]!;
    const encode = column.encode;
    let index = rowOffset * width + c;
    const slot = column.memoSlot;
    if (memo !== undefined && slot >= 0) {
      for (let r = 0; r < n; r++, index += width) {
        const values = memo[r];
        data[index] = BigInt(values !== undefined ? values[slot]! : encode(slate, r));
      }
    } else if (column.perItem) {
      for (let r = 0; r < n; r++, index += width) data[index] = BigInt(encode(slate, r));
    } else {
      const value = BigInt(encode(slate, 0));
      for (let r = 0; r < n; r++, index += width) data[index] = value;
    }
  }
}
