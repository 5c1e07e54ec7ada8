// Reads the backfill's input tables (users, items, impressions) from CSV, JSONL or Parquet, so that
// tables exported by Spark, BigQuery or DuckDB feed the backfill directly. Parsing is left to
// libraries (uDSV for CSV, node:readline + JSON.parse for JSONL, hyparquet for Parquet); this module
// maps columns by name, converts each value to the type of model/data/impressions.ts, and names
// the file, row and column of anything it cannot convert.
//
// Rows come out in batches (arrays), not one by one: an async iteration per row costs more than the
// parsing itself at millions of rows.
//
// Why uDSV and not csv-parse for CSV: csv-parse's core parser measured ~11 us per impression row
// here (2M rows: 17 s of CPU through its stream), uDSV ~2.7 us, papaparse ~3.5 us; uDSV also has
// a plain incremental API (chunk in, rows out) that needs no pause/resume juggling for backpressure.
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead, parquetSchema } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { inferSchema, initParser } from 'udsv';
import { IMPRESSION_SCHEMA, ITEM_SCHEMA, USER_SCHEMA, type FieldKind, type TableSchema } from '../../model/world/table-schemas.ts';
import type { CatalogItem, Impression, UserProfile } from '../../model/data/impressions.ts';

export const TABLE_FORMATS = ['csv', 'jsonl', 'parquet'] as const;
export type TableFormat = (typeof TABLE_FORMATS)[number];

export class TableError extends Error {
  override name = 'TableError';
}

/** Rows per yielded batch (CSV/JSONL; Parquet yields at most this many too). */
const BATCH_ROWS = 8192;

const EXTENSIONS: Record<string, TableFormat> = {
  '.csv': 'csv',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.parquet': 'parquet',
  '.pq': 'parquet',
};

/** The format a file name implies (a trailing .gz is looked through for CSV and JSONL). */
export function formatFromName(path: string): TableFormat | undefined {
  const name = basename(path).toLowerCase();
  const gz = name.endsWith('.gz');
  const format = EXTENSIONS[extname(gz ? name.slice(0, -3) : name)];
  if (gz && format === 'parquet') return undefined;
  return format;
}

export function isTableFormat(text: string): text is TableFormat {
  return (TABLE_FORMATS as readonly string[]).includes(text);
}

/** Column kinds beyond the schema's: `ts` also accepts dates (Parquet TIMESTAMP, ISO-8601 text). */
type ColumnKind = FieldKind | 'timestamp' | 'id';

interface TableSpec<T> {
  name: string;
  schema: TableSchema<T>;
  kinds: Record<keyof T & string, ColumnKind>;
}

function spec<T>(name: string, schema: TableSchema<T>, overrides: Partial<Record<keyof T & string, ColumnKind>>): TableSpec<T> {
  return { name, schema, kinds: { ...(schema as Record<keyof T & string, ColumnKind>), ...overrides } };
}

export const USERS_TABLE = spec<UserProfile>('users', USER_SCHEMA, { user_id: 'id' });
export const ITEMS_TABLE = spec<CatalogItem>('items', ITEM_SCHEMA, { item_id: 'id' });
export const IMPRESSIONS_TABLE = spec<Impression>('impressions', IMPRESSION_SCHEMA, { ts: 'timestamp', user_id: 'id', item_id: 'id' });

/** The table restricted to some of its columns. */
function project<T>(table: TableSpec<T>, columns: readonly (keyof T & string)[]): TableSpec<T> {
  const schema = {} as Record<string, FieldKind>;
  const kinds = {} as Record<string, ColumnKind>;
  for (const column of columns) {
    schema[column] = table.schema[column];
    kinds[column] = table.kinds[column];
  }
  return { name: table.name, schema: schema as TableSchema<T>, kinds: kinds as Record<keyof T & string, ColumnKind> };
}

/** One logical table: a file, or a directory of part files (Spark, BigQuery exports). */
export interface Table<T> {
  readonly files: readonly string[];
  readonly format: TableFormat;
  /**
   * Typed rows in file order, in batches; a fresh pass each call. With `columns`, rows hold (and
   * are checked for) only those columns: a cheaper pass when only a few are needed.
   */
  batches(): AsyncGenerator<T[]>;
  batches<K extends keyof T & string>(columns: readonly K[]): AsyncGenerator<Pick<T, K>[]>;
}

/**
 * Opens a table. `path` is a file or a directory (its files with a known extension are read in
 * name order; hidden files, _SUCCESS and .crc files are skipped). The format comes from `format`
 * or the file extension.
 */
export async function openTable<T>(path: string, table: TableSpec<T>, format?: TableFormat): Promise<Table<T>> {
  let files: string[];
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new TableError(`${table.name} table ${path}: no such file or directory`);
  }
  if (info.isDirectory()) {
    const names = (await readdir(path)).filter((n) => !n.startsWith('.') && !n.startsWith('_') && !n.endsWith('.crc')).sort();
    files = names.filter((n) => (format ? true : formatFromName(n) !== undefined)).map((n) => join(path, n));
    if (files.length === 0) throw new TableError(`${table.name} table ${path}: the directory holds no .csv, .jsonl or .parquet files`);
  } else {
    files = [path];
  }
  let resolved = format;
  for (const file of files) {
    const f = format ?? formatFromName(file);
    if (!f) throw new TableError(`${file}: cannot tell the format from the extension (expected .csv, .jsonl, .ndjson, .parquet, or .csv.gz/.jsonl.gz); pass --format`);
    if (resolved && f !== resolved) throw new TableError(`${path}: mixes ${resolved} and ${f} files`);
    resolved = f;
  }
  const fmt = resolved!;
  const read = fmt === 'csv' ? readCsv : fmt === 'jsonl' ? readJsonl : readParquet;
  return {
    files,
    format: fmt,
    async *batches(columns?: readonly (keyof T & string)[]) {
      const projected = columns ? project(table, columns) : table;
      for (const file of files) yield* read(file, projected as TableSpec<T>);
    },
  } as Table<T>;
}

// ---------------------------------------------------------------------------------------------
// Value conversion

const NUMERIC = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

/**
 * Whether text is a decimal number. Number() alone would also take "", "  ", "0x1f" and
 * "Infinity"; the common case (digits, one dot) is decided without the regular expression.
 */
function isDecimal(text: string): boolean {
  const n = text.length;
  if (n === 0 || n > 32) return n > 0 && NUMERIC.test(text);
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) continue;
    if (c === 46 && ++dots === 1) continue;
    if (c === 45 && i === 0 && n > 1) continue;
    return NUMERIC.test(text);
  }
  return !(dots === 1 && n === 1);
}

/** Converts one value to its column's kind; undefined when it cannot. */
function convert(kind: ColumnKind, value: unknown): string | number | undefined {
  switch (kind) {
    case 'string':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'bigint') return String(value);
      return undefined;
    case 'id':
      if (typeof value === 'string') return value === '' ? undefined : value;
      if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'bigint') return String(value);
      return undefined;
    case 'number':
    case 'integer':
    case 'timestamp': {
      let n: number;
      if (typeof value === 'number') n = value;
      else if (typeof value === 'bigint') n = Number(value);
      else if (typeof value === 'string' && isDecimal(value)) n = Number(value);
      else if (kind === 'timestamp' && value instanceof Date) n = value.getTime();
      else if (kind === 'timestamp' && typeof value === 'string' && value.trim() !== '') n = Date.parse(value.trim().replace(/ UTC$/, 'Z'));
      else return undefined;
      if (!Number.isFinite(n)) return undefined;
      if (kind !== 'number' && (!Number.isSafeInteger(n) || (typeof value === 'bigint' && BigInt(n) !== value))) return undefined;
      return n;
    }
    case 'flag':
      if (value === 0 || value === 1) return value;
      if (value === true || value === 'true' || value === 'TRUE' || value === '1' || value === 1n) return 1;
      if (value === false || value === 'false' || value === 'FALSE' || value === '0' || value === 0n) return 0;
      return undefined;
  }
}

const EXPECTED: Record<ColumnKind, string> = {
  string: 'a string',
  id: 'a non-empty id',
  integer: 'an integer',
  number: 'a finite number',
  timestamp: 'epoch milliseconds (integer) or an ISO-8601 time',
  flag: '0 or 1 (or true/false)',
};

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Date) return value.toISOString();
  const text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function badValue(file: string, row: number, column: string, kind: ColumnKind, value: unknown): TableError {
  return new TableError(`${file}: row ${row}, column ${column}: expected ${EXPECTED[kind]}, got ${show(value)}`);
}

/**
 * Builds a row converter for a table whose columns come in `header` order: schema column ->
 * position. Columns the schema does not name are ignored; a missing one is an error.
 */
function positional<T>(file: string, table: TableSpec<T>, header: readonly string[]): (fields: readonly unknown[], row: number) => T {
  const columns = Object.keys(table.schema) as (keyof T & string)[];
  const index = columns.map((column) => header.indexOf(column));
  const missing = columns.filter((_, k) => index[k]! < 0);
  if (missing.length > 0) {
    throw new TableError(`${file}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (the ${table.name} table needs ${columns.join(', ')}; found ${header.join(', ') || 'none'})`);
  }
  const kinds = columns.map((column) => table.kinds[column]);
  const n = columns.length;
  return (fields, row) => {
    const record: Record<string, string | number> = {};
    for (let k = 0; k < n; k++) {
      const raw = fields[index[k]!];
      const value = convert(kinds[k]!, raw);
      if (value === undefined) throw badValue(file, row, columns[k]!, kinds[k]!, raw);
      record[columns[k]!] = value;
    }
    return record as T;
  };
}

// ---------------------------------------------------------------------------------------------
// CSV (uDSV)

function textStream(file: string) {
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  const stream = file.toLowerCase().endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  stream.setEncoding('utf8');
  return stream as AsyncIterable<string>;
}

async function* readCsv<T>(file: string, table: TableSpec<T>): AsyncGenerator<T[]> {
  let parser: ReturnType<typeof initParser> | undefined;
  let toRow: ((fields: readonly unknown[], row: number) => T) | undefined;
  let pending = '';
  let row = 0;
  let batch: T[] = [];
  let width = 0;
  const onRow = (fields: string[]) => {
    row++;
    if (fields.length !== width) {
      // uDSV reports a blank line as one empty field; skip those, reject other ragged rows.
      if (fields.length === 1 && fields[0] === '') {
        row--;
        return;
      }
      throw new TableError(`${file}: row ${row}: expected ${width} fields as in the header, got ${fields.length}`);
    }
    batch.push(toRow!(fields, row));
  };
  for await (let chunk of textStream(file)) {
    if (!parser) {
      // The header must be complete before the schema is read from it.
      pending += chunk;
      if (!/\r?\n/.test(pending)) continue;
      chunk = pending.charCodeAt(0) === 0xfeff ? pending.slice(1) : pending;
      pending = '';
      parser = initParser(inferSchema(chunk, { col: ',', encl: '"' }));
      const header = parser.schema.cols.map((c) => c.name);
      width = header.length;
      toRow = positional(file, table, header);
    }
    parser.chunk<string[]>(chunk, parser.stringArrs, onRow);
    if (batch.length >= BATCH_ROWS) {
      yield batch;
      batch = [];
    }
  }
  if (!parser) {
    const text = pending.trim();
    if (text === '') throw new TableError(`${file}: empty file, expected a header row`);
    // A header with no newline after it: no data rows.
    positional(file, table, text.split(','));
    return;
  }
  parser.end();
  if (batch.length > 0) yield batch;
}

// ---------------------------------------------------------------------------------------------
// JSONL (node:readline + JSON.parse)

async function* readJsonl<T>(file: string, table: TableSpec<T>): AsyncGenerator<T[]> {
  const columns = Object.keys(table.schema) as (keyof T & string)[];
  const kinds = columns.map((column) => table.kinds[column]);
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  const input = file.toLowerCase().endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  const lines = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  let row = 0;
  let batch: T[] = [];
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    row++;
    let object: unknown;
    try {
      object = JSON.parse(text);
    } catch (error) {
      throw new TableError(`${file}: row ${row} (line ${line}): not valid JSON (${error instanceof Error ? error.message : String(error)})`);
    }
    if (typeof object !== 'object' || object === null || Array.isArray(object)) {
      throw new TableError(`${file}: row ${row} (line ${line}): expected a JSON object, got ${show(object)}`);
    }
    const record: Record<string, string | number> = {};
    for (let k = 0; k < columns.length; k++) {
      const column = columns[k]!;
      const value = (object as Record<string, unknown>)[column];
      const converted = convert(kinds[k]!, value);
      if (converted === undefined) {
        if (!(column in object)) throw new TableError(`${file}: row ${row} (line ${line}): missing column ${column}`);
        throw badValue(`${file}`, row, column, kinds[k]!, value);
      }
      record[column] = converted;
    }
    batch.push(record as T);
    if (batch.length >= BATCH_ROWS) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

// ---------------------------------------------------------------------------------------------
// Parquet (hyparquet; hyparquet-compressors adds gzip, zstd, brotli and lz4 to its snappy)

/** Rows decoded per read: bounds memory when a row group is large (Spark writes ~128 MB groups). */
const PARQUET_SLICE_ROWS = 65_536;

async function* readParquet<T>(file: string, table: TableSpec<T>): AsyncGenerator<T[]> {
  let buffer;
  let metadata;
  try {
    buffer = await asyncBufferFromFile(file);
    metadata = await parquetMetadataAsync(buffer);
  } catch (error) {
    throw new TableError(`${file}: not a readable Parquet file (${error instanceof Error ? error.message : String(error)})`);
  }
  const header = parquetSchema(metadata).children.map((child) => child.element.name);
  const columns = Object.keys(table.schema) as (keyof T & string)[];
  positional(file, table, header); // throws naming any missing column
  // Read only the schema's columns, in schema order; the converter then sees them positionally.
  const convertRow = positional(file, table, columns);
  let start = 0;
  for (const group of metadata.row_groups) {
    const groupEnd = start + Number(group.num_rows);
    for (let rowStart = start; rowStart < groupEnd; rowStart += PARQUET_SLICE_ROWS) {
      const rowEnd = Math.min(groupEnd, rowStart + PARQUET_SLICE_ROWS);
      let rows: unknown[][] = [];
      await parquetRead({
        file: buffer,
        metadata,
        columns,
        rowStart,
        rowEnd,
        compressors,
        rowFormat: 'array',
        onComplete: (data) => {
          rows = data;
        },
      });
      const batch: T[] = new Array(rows.length);
      for (let r = 0; r < rows.length; r++) batch[r] = convertRow(rows[r]!, rowStart + r + 1);
      yield batch;
    }
    start = groupEnd;
  }
}
