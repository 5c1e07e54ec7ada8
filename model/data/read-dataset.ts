// Reads a schema-described dataset (model/data/dataset-schema.ts) into the impression-log shape the
// trainer takes: rows -> typed impressions -> LabelledSlates (model/dataset/slates.ts), one per
// request, in logged order. Streaming: a split is read file by file and a slate is yielded as soon
// as its request's rows are complete (schemas whose files are not grouped by request buffer a file).
//
// Records: the user and context records come from the request's first row; the item record is per
// impression (`stored`, what the backfill would write to KV for the item, price included); the
// shown price and the schema's inline fields are sent `inline`, as a storefront sends per-item
// values with the request. Missing values are
// left out of the records (absent, not 0), so the manifest's defaults apply as they would at serving.
import { parse } from 'csv-parse';
import { createReadStream } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { ItemRow } from '../features/assemble.ts';
import type { RawRecord } from '../features/records.ts';
import type { LabelledSlate } from '../dataset/slates.ts';
import {
  columnOf,
  positionColumn,
  recordFields,
  splitFilesOf,
  type DatasetSchema,
  type RecordSource,
  type ResolvedField,
  type TimeParseRule,
} from './dataset-schema.ts';

/** The repository root (model/data/ is two levels down): schema data_roots are relative to it. */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

export class DatasetReadError extends Error {
  override name = 'DatasetReadError';
}

/** One logged impression in the common shape, with its raw records. */
export interface DatasetImpression {
  requestId: string;
  /** epoch milliseconds */
  ts: number;
  /** undefined: anonymous (the dataset has no user id, or this row's is missing) */
  userId: string | undefined;
  itemId: string;
  /** 1-based logged position */
  position: number;
  clicked: 0 | 1;
  purchased: 0 | 1;
  /** undefined when missing */
  price: number | undefined;
  user: RawRecord;
  item: RawRecord;
  context: RawRecord;
  /** the request's per-item fields (the shown price and the schema's inline fields) */
  inline: RawRecord;
  metadata: RawRecord;
}

/** A labelled slate of a schema-described dataset, with how it was logged. */
export interface DatasetSlate extends LabelledSlate {
  split: string;
  /** the schema's slate_metadata fields from the request's first row (e.g. random_bool) */
  metadata: RawRecord;
}

export interface ReadOptions {
  /** overrides the schema's data_root (a relative path is resolved against the working directory) */
  dataRoot?: string;
  /** stop after this many slates (tests, quick looks) */
  limit?: number;
}

/** The directory split paths are resolved against. */
export function dataRootOf(schema: DatasetSchema, options: ReadOptions = {}): string {
  if (options.dataRoot !== undefined) return resolve(options.dataRoot);
  return isAbsolute(schema.data_root) ? schema.data_root : resolve(REPO_ROOT, schema.data_root);
}

// ---------------------------------------------------------------------------------------------
// Value conversion
// ---------------------------------------------------------------------------------------------

const DATETIME = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?$/;
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/;

/** Epoch milliseconds, or undefined when the text does not follow the rule. */
export function parseTime(text: string, rule: TimeParseRule): number | undefined {
  switch (rule) {
    case 'datetime_utc': {
      const m = DATETIME.exec(text.trim());
      if (!m) return undefined;
      const [, y, mo, d, h, mi, s, frac] = m;
      const month = Number(mo);
      const day = Number(d);
      if (month < 1 || month > 12 || day < 1 || day > 31) return undefined;
      const ms = frac ? Math.floor(Number(`0.${frac}`) * 1000) : 0;
      const ts = Date.UTC(Number(y), month - 1, day, Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0), ms);
      // Date.UTC rolls 2013-02-30 over into March; reject instead.
      return new Date(ts).getUTCDate() === day ? ts : undefined;
    }
    case 'iso8601': {
      const t = text.trim();
      if (!ISO_WITH_ZONE.test(t)) return undefined;
      const ts = Date.parse(t);
      return Number.isFinite(ts) ? ts : undefined;
    }
    case 'epoch_seconds':
    case 'epoch_millis': {
      const t = text.trim();
      if (t === '') return undefined;
      const n = Number(t);
      if (!Number.isFinite(n)) return undefined;
      return rule === 'epoch_seconds' ? Math.round(n * 1000) : Math.round(n);
    }
  }
}

type Converted = { ok: true; value: string | number | undefined } | { ok: false; expected: string };

/** Missing-value spellings that are numbers: a number field equal to one of them is missing ("0" catches "0.0"). */
function numericMissing(spellings: Iterable<string>): number[] {
  return [...spellings].filter((t) => t.trim() !== '' && Number.isFinite(Number(t))).map(Number);
}

interface MissingRule {
  text: ReadonlySet<string>;
  numbers: readonly number[];
}

function convertField(field: ResolvedField, text: string, missing: MissingRule): Converted {
  if (missing.text.has(text)) return { ok: true, value: undefined };
  if (field.type === 'number' && missing.numbers.length > 0 && text.trim() !== '') {
    const n = Number(text);
    if (Number.isFinite(n) && missing.numbers.includes(n)) return { ok: true, value: undefined };
  }
  switch (field.type) {
    case 'string':
      return { ok: true, value: text };
    case 'flag': {
      const t = text.trim().toLowerCase();
      if (t === '1' || t === 'true') return { ok: true, value: 1 };
      if (t === '0' || t === 'false') return { ok: true, value: 0 };
      return { ok: false, expected: 'a flag (0/1 or true/false)' };
    }
    case 'number': {
      if (text.trim() === '') return { ok: false, expected: 'a number (declare "" as missing if it means missing)' };
      let n = Number(text);
      if (!Number.isFinite(n)) return { ok: false, expected: 'a finite number' };
      if (field.map === 'exp') n = Math.exp(n);
      else if (field.map === 'log') {
        if (n <= 0) return { ok: true, value: undefined };
        n = Math.log(n);
      }
      return { ok: true, value: n };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Row adapter
// ---------------------------------------------------------------------------------------------

interface BoundField extends ResolvedField {
  index: number;
  missingRule: MissingRule;
  /** where the field is declared in the schema, for error messages */
  schemaPath: string;
}

/** A schema bound to one file's header: converts a row of text fields into a DatasetImpression. */
class RowAdapter {
  private readonly missing: ReadonlySet<string>;
  private readonly requestId: number;
  private readonly time: number;
  private readonly userId: number | null;
  private readonly itemId: number;
  private readonly position: number;
  private readonly positionBase: number;
  private readonly clicked: number;
  private readonly purchased: number;
  private readonly price: number;
  private readonly records: Record<RecordSource | 'metadata', BoundField[]>;

  constructor(
    private readonly schema: DatasetSchema,
    private readonly header: string[],
    private readonly file: string,
  ) {
    this.missing = new Set(schema.missing);
    const index = new Map<string, number>();
    header.forEach((name, i) => {
      if (!index.has(name)) index.set(name, i);
    });
    const find = (column: string, schemaPath: string): number => {
      const i = index.get(column);
      if (i === undefined) {
        throw new DatasetReadError(`${file}: column ${column} (schema field ${schemaPath}) is not in the header (columns: ${header.join(', ')})`);
      }
      return i;
    };
    const imp = schema.impression;
    this.requestId = find(columnOf(imp.request_id), 'impression.request_id');
    this.time = find(imp.time.column, 'impression.time.column');
    this.userId = imp.user_id ? find(columnOf(imp.user_id), 'impression.user_id') : null;
    this.itemId = find(columnOf(imp.item_id), 'impression.item_id');
    const pos = positionColumn(schema);
    this.position = find(pos.column, 'impression.position');
    this.positionBase = pos.base;
    this.clicked = find(columnOf(imp.clicked), 'impression.clicked');
    this.purchased = find(columnOf(imp.purchased), 'impression.purchased');
    this.price = find(columnOf(imp.price), 'impression.price');
    const bind = (fields: ResolvedField[], prefix: string): BoundField[] =>
      fields.map((f) => {
        const schemaPath = `${prefix}.${f.name}`;
        const spellings = f.missing ?? schema.missing;
        return { ...f, schemaPath, index: find(f.column, schemaPath), missingRule: { text: new Set(spellings), numbers: numericMissing(spellings) } };
      });
    this.records = {
      user: bind(recordFields(schema, 'user'), 'records.user'),
      item: bind(recordFields(schema, 'item'), 'records.item'),
      context: bind(recordFields(schema, 'context'), 'records.context'),
      inline: bind(recordFields(schema, 'inline'), 'records.inline'),
      metadata: bind(recordFields(schema, 'slate_metadata'), 'slate_metadata'),
    };
  }

  private fail(row: number, column: string, schemaPath: string, text: string, expected: string): never {
    throw new DatasetReadError(`${this.file}: row ${row}: column ${column} (schema field ${schemaPath}) must be ${expected}, got "${text}"`);
  }

  private required(fields: string[], row: number, i: number, schemaPath: string): string {
    const text = fields[i]!;
    if (this.missing.has(text)) this.fail(row, this.columnName(i), schemaPath, text, 'present (it is required)');
    return text;
  }

  private columnName(i: number): string {
    return this.header[i] ?? `#${i}`;
  }

  private flag(fields: string[], row: number, i: number, schemaPath: string): 0 | 1 {
    const text = this.required(fields, row, i, schemaPath).trim().toLowerCase();
    if (text === '1' || text === 'true') return 1;
    if (text === '0' || text === 'false') return 0;
    return this.fail(row, this.columnName(i), schemaPath, fields[i]!, 'a flag (0/1 or true/false)');
  }

  private record(fields: string[], row: number, bound: BoundField[]): RawRecord {
    const out: RawRecord = {};
    for (const f of bound) {
      const text = fields[f.index]!;
      const converted = convertField(f, text, f.missingRule);
      if (!converted.ok) this.fail(row, f.column, f.schemaPath, text, converted.expected);
      if (converted.value !== undefined) out[f.name] = converted.value;
    }
    return out;
  }

  /** `row` is the 1-based data row of the file (the header not counted). */
  convert(fields: string[], row: number): DatasetImpression {
    if (fields.length !== this.header.length) {
      throw new DatasetReadError(`${this.file}: row ${row}: expected ${this.header.length} fields, got ${fields.length}`);
    }
    const rule = this.schema.impression.time.parse;
    const timeText = this.required(fields, row, this.time, 'impression.time');
    const ts = parseTime(timeText, rule);
    if (ts === undefined) this.fail(row, this.columnName(this.time), 'impression.time.parse', timeText, `a time in the ${rule} format`);
    const positionText = this.required(fields, row, this.position, 'impression.position');
    const position = Number(positionText) + (1 - this.positionBase);
    if (!Number.isInteger(position) || position < 1) {
      this.fail(row, this.columnName(this.position), 'impression.position', positionText, `an integer >= ${this.positionBase}`);
    }
    const clicked = this.flag(fields, row, this.clicked, 'impression.clicked');
    const purchased = this.flag(fields, row, this.purchased, 'impression.purchased');
    if (purchased && !clicked) {
      throw new DatasetReadError(`${this.file}: row ${row}: a purchase without a click (the ESMM labels need purchase => click)`);
    }
    const priceText = fields[this.price]!;
    let price: number | undefined;
    if (!this.missing.has(priceText)) {
      price = Number(priceText);
      if (priceText.trim() === '' || !Number.isFinite(price)) this.fail(row, this.columnName(this.price), 'impression.price', priceText, 'a number');
    }
    const userText = this.userId === null ? undefined : fields[this.userId]!;
    const item = this.record(fields, row, this.records.item);
    const inline = this.record(fields, row, this.records.inline);
    if (price !== undefined) {
      item.price = price;
      inline.price = price;
    }
    return {
      requestId: this.required(fields, row, this.requestId, 'impression.request_id'),
      ts,
      userId: userText === undefined || this.missing.has(userText) ? undefined : userText,
      itemId: this.required(fields, row, this.itemId, 'impression.item_id'),
      position,
      clicked,
      purchased,
      price,
      user: this.record(fields, row, this.records.user),
      item,
      context: this.record(fields, row, this.records.context),
      inline,
      metadata: this.record(fields, row, this.records.metadata),
    };
  }
}

/** Impressions of one file, in file order. */
async function* readFileImpressions(schema: DatasetSchema, path: string): AsyncGenerator<DatasetImpression> {
  const format = schema.format;
  if (format.kind !== 'csv') {
    throw new DatasetReadError(`${path}: format ${format.kind} (schema field format.kind) is not implemented yet; csv is`);
  }
  const source = createReadStream(path);
  const parser = parse({ delimiter: format.delimiter, skip_empty_lines: true, relax_column_count: true });
  // pipe() does not forward the source's errors: without this a missing file would never end.
  source.on('error', (error) => parser.destroy(error));
  source.pipe(parser);
  let adapter: RowAdapter | null = null;
  let row = 0;
  try {
    for await (const fields of parser as AsyncIterable<string[]>) {
      if (adapter === null) {
        adapter = new RowAdapter(schema, fields, path);
        continue;
      }
      row++;
      yield adapter.convert(fields, row);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new DatasetReadError(`${path}: no such file (dataset ${schema.name}; data_root ${schema.data_root} is resolved against the repository root unless a dataRoot is given)`);
    }
    throw error;
  } finally {
    source.destroy();
    parser.destroy();
  }
  if (adapter === null) throw new DatasetReadError(`${path}: empty file, expected a header row`);
}

/** Impressions of a split, file by file, in file order. */
export async function* readImpressions(schema: DatasetSchema, split: string, options: ReadOptions = {}): AsyncGenerator<DatasetImpression> {
  const root = dataRootOf(schema, options);
  for (const file of splitFilesOf(schema, split)) yield* readFileImpressions(schema, resolve(root, file));
}

function toSlate(group: DatasetImpression[], split: string): DatasetSlate {
  // Logged (displayed) order; ties keep file order (stable sort).
  group.sort((a, b) => a.position - b.position);
  const first = group[0]!;
  const items: ItemRow[] = group.map((imp) => ({
    id: imp.itemId,
    stored: imp.item,
    inline: imp.inline,
  }));
  return {
    split,
    requestId: first.requestId,
    ts: first.ts,
    userId: first.userId,
    user: first.user,
    context: first.context,
    items,
    positions: Int32Array.from(group, (imp) => imp.position),
    clicks: Uint8Array.from(group, (imp) => imp.clicked),
    purchases: Uint8Array.from(group, (imp) => imp.purchased),
    metadata: first.metadata,
  };
}

/** Slates of a split (one per request, items in logged order), streamed. */
export async function* readSlates(schema: DatasetSchema, split: string, options: ReadOptions = {}): AsyncGenerator<DatasetSlate> {
  const limit = options.limit ?? Infinity;
  if (limit <= 0) return;
  let yielded = 0;
  const root = dataRootOf(schema, options);
  const seen = new Set<string>();
  for (const file of splitFilesOf(schema, split)) {
    const path = resolve(root, file);
    if (!schema.format.grouped_by_request) {
      // Buffer the file, grouping by request id in order of first appearance.
      const groups = new Map<string, DatasetImpression[]>();
      for await (const imp of readFileImpressions(schema, path)) {
        if (seen.has(imp.requestId)) throw duplicateRequest(path, imp.requestId);
        const group = groups.get(imp.requestId);
        if (group) group.push(imp);
        else groups.set(imp.requestId, [imp]);
      }
      for (const [id, group] of groups) {
        seen.add(id);
        yield toSlate(group, split);
        if (++yielded >= limit) return;
      }
      continue;
    }
    let group: DatasetImpression[] = [];
    for await (const imp of readFileImpressions(schema, path)) {
      if (group.length > 0 && group[0]!.requestId !== imp.requestId) {
        seen.add(group[0]!.requestId);
        yield toSlate(group, split);
        if (++yielded >= limit) return;
        group = [];
      }
      if (group.length === 0 && seen.has(imp.requestId)) throw duplicateRequest(path, imp.requestId);
      group.push(imp);
    }
    if (group.length > 0) {
      seen.add(group[0]!.requestId);
      yield toSlate(group, split);
      if (++yielded >= limit) return;
    }
  }
}

function duplicateRequest(path: string, requestId: string): DatasetReadError {
  return new DatasetReadError(
    `${path}: request ${requestId} appears again after other requests (or in an earlier file of the split): rows are not grouped by request; set format.grouped_by_request to false if they are grouped only within a file`,
  );
}

/** Every slate of one or more splits, in order (splits in the order given). */
export async function collectSlates(schema: DatasetSchema, splits: string | readonly string[], options: ReadOptions = {}): Promise<DatasetSlate[]> {
  const out: DatasetSlate[] = [];
  for (const split of typeof splits === 'string' ? [splits] : splits) {
    for await (const slate of readSlates(schema, split, options)) out.push(slate);
  }
  return out;
}
