// The one feature module shared by trainer (Node) and worker (workerd): it turns raw user, item and
// context records into the model's input tensors, driven only by the manifest. Nothing here may use
// a Node or Workers API.
import { fnv1a32 } from './hash.ts';
import type { FeatureSpec, FieldRef, InputDType, Manifest, NumericTransform } from './manifest.ts';
import type { RawRecord, RawValue } from './records.ts';

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

/** Why a value was replaced by its default; counted so a dashboard can see bad data arrive. */
export interface FeatureQualityCounters {
  /** present but of the wrong type, or not a finite number */
  invalid: number;
}

type Encoder = (slate: SlateRecords, row: number) => number;

interface CompiledColumn {
  encode: Encoder;
  /** true when the value depends on the item (so it is computed per row) */
  perItem: boolean;
}

interface CompiledInput {
  name: string;
  dtype: InputDType;
  columns: CompiledColumn[];
}

function applyTransform(x: number, t: NumericTransform): number {
  let v = x;
  if (t.log1p) v = Math.log1p(v > 0 ? v : 0);
  if (t.clip) v = v < t.clip[0] ? t.clip[0] : v > t.clip[1] ? t.clip[1] : v;
  return (v - t.mean) / t.std;
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

function dependsOnItem(spec: FeatureSpec): boolean {
  const refs: FieldRef[] =
    spec.kind === 'cross'
      ? spec.op === 'map_lookup'
        ? [spec.map, spec.key]
        : [spec.numerator, spec.denominator]
      : [spec.from];
  return refs.some((r) => r.source === 'item' || r.source === 'request');
}

function compileFeature(spec: FeatureSpec, counters: FeatureQualityCounters): Encoder {
  const asNumber = (v: RawValue | undefined, fallback: number): number => {
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (typeof v === 'boolean') return v ? 1 : 0;
    counters.invalid++;
    return fallback;
  };
  const asKey = (v: RawValue | undefined): string | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    counters.invalid++;
    return undefined;
  };

  switch (spec.kind) {
    case 'numeric': {
      const { from, transform } = spec;
      const fallback = spec.default;
      return (slate, row) => applyTransform(asNumber(resolve(from, slate, row), fallback), transform);
    }
    case 'categorical': {
      const { from } = spec;
      if (spec.vocab) {
        const index = new Map<string, number>(spec.vocab.map((value, i) => [value, i + 1]));
        return (slate, row) => {
          const key = asKey(resolve(from, slate, row));
          return key === undefined ? 0 : (index.get(key) ?? 0);
        };
      }
      const buckets = spec.hash_buckets!;
      return (slate, row) => {
        const key = asKey(resolve(from, slate, row));
        return key === undefined ? 0 : 1 + (fnv1a32(key) % buckets);
      };
    }
    case 'cross': {
      const { transform } = spec;
      const fallback = spec.default;
      if (spec.op === 'map_lookup') {
        const { map, key } = spec;
        return (slate, row) => {
          const table = resolve(map, slate, row);
          const k = asKey(resolve(key, slate, row));
          let value = fallback;
          if (k !== undefined && table !== undefined && table !== null) {
            if (typeof table === 'object' && !Array.isArray(table)) {
              value = asNumber((table as RawRecord)[k], fallback);
            } else {
              counters.invalid++;
            }
          }
          return applyTransform(value, transform);
        };
      }
      const { numerator, denominator } = spec;
      return (slate, row) => {
        const a = asNumber(resolve(numerator, slate, row), Number.NaN);
        const b = asNumber(resolve(denominator, slate, row), Number.NaN);
        const ratio = a > 0 && b > 0 ? Math.log(a / b) : fallback;
        return applyTransform(ratio, transform);
      };
    }
  }
}

/**
 * A manifest compiled into encoders. Build once per model and reuse for every slate: the worker
 * keeps one per model per isolate, the trainer one per run.
 */
export class FeatureAssembler {
  readonly counters: FeatureQualityCounters = { invalid: 0 };
  private readonly compiled: CompiledInput[];
  private readonly featureNames: string[][];

  constructor(readonly manifest: Manifest) {
    const specs = new Map(manifest.features.map((f) => [f.name, f]));
    this.featureNames = manifest.inputs.map((input) => input.features);
    this.compiled = manifest.inputs.map((input) => ({
      name: input.name,
      dtype: input.dtype,
      columns: input.features.map((name) => {
        const spec = specs.get(name);
        if (!spec) throw new Error(`input ${input.name} names unknown feature ${name}`);
        return { encode: compileFeature(spec, this.counters), perItem: dependsOnItem(spec) };
      }),
    }));
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
    for (let b = 0; b < this.compiled.length; b++) {
      const input = this.compiled[b]!;
      const buffer = buffers[b]!;
      const width = input.columns.length;
      if ((rowOffset + n) * width > buffer.data.length) {
        throw new Error(`buffer ${input.name} holds ${buffer.data.length / width} rows, needs ${rowOffset + n}`);
      }
      for (let c = 0; c < width; c++) {
        const column = input.columns[c]!;
        if (column.perItem) {
          for (let r = 0; r < n; r++) write(buffer.data, (rowOffset + r) * width + c, column.encode(slate, r));
        } else {
          const value = column.encode(slate, 0);
          for (let r = 0; r < n; r++) write(buffer.data, (rowOffset + r) * width + c, value);
        }
      }
    }
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

function write(data: InputBuffer, index: number, value: number): void {
  if (data instanceof BigInt64Array) data[index] = BigInt(value);
  else data[index] = value;
}
