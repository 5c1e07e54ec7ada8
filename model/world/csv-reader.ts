// Streams the world's CSV files back as typed rows (csv-parse does the CSV; this checks the header
// and converts each field to its schema's type, naming the file and data row of anything malformed).
import { parse } from 'csv-parse';
import { createReadStream } from 'node:fs';
import type { CatalogItem, Impression, UserProfile } from '../data/impressions.ts';
import { IMPRESSION_SCHEMA, ITEM_SCHEMA, USER_SCHEMA, schemaColumns, type FieldKind, type TableSchema } from './table-schemas.ts';

export class CsvFormatError extends Error {
  override name = 'CsvFormatError';
}

function convert(kind: FieldKind, text: string): string | number | undefined {
  if (kind === 'string') return text;
  if (text.trim() === '') return undefined;
  const value = Number(text);
  if (!Number.isFinite(value)) return undefined;
  if (kind === 'integer' && !Number.isInteger(value)) return undefined;
  if (kind === 'flag' && value !== 0 && value !== 1) return undefined;
  return value;
}

/** Rows of a CSV file with exactly the schema's columns, as typed objects. */
export async function* readCsvTable<T>(path: string, schema: TableSchema<T>): AsyncGenerator<T> {
  const columns = schemaColumns(schema);
  const kinds = columns.map((column) => schema[column]);
  const parser = createReadStream(path).pipe(parse({ skip_empty_lines: true }));
  let header = true;
  let row = 0; // data rows so far; counted here because the parser's own line count runs ahead
  for await (const fields of parser as AsyncIterable<string[]>) {
    if (header) {
      if (fields.length !== columns.length || fields.some((field, k) => field !== columns[k])) {
        throw new CsvFormatError(`${path}: expected the header "${columns.join(',')}", got "${fields.join(',')}"`);
      }
      header = false;
      continue;
    }
    row++;
    if (fields.length !== columns.length) throw new CsvFormatError(`${path}: row ${row}: expected ${columns.length} fields, got ${fields.length}`);
    const record: Record<string, string | number> = {};
    for (let k = 0; k < columns.length; k++) {
      const value = convert(kinds[k]!, fields[k]!);
      if (value === undefined) throw new CsvFormatError(`${path}: row ${row}: ${columns[k]} must be ${kinds[k]}, got "${fields[k]}"`);
      record[columns[k]!] = value;
    }
    yield record as T;
  }
  if (header) throw new CsvFormatError(`${path}: empty file, expected a header row`);
}

export function readImpressions(path: string): AsyncGenerator<Impression> {
  return readCsvTable<Impression>(path, IMPRESSION_SCHEMA);
}

export function readUsers(path: string): AsyncGenerator<UserProfile> {
  return readCsvTable<UserProfile>(path, USER_SCHEMA);
}

export function readItems(path: string): AsyncGenerator<CatalogItem> {
  return readCsvTable<CatalogItem>(path, ITEM_SCHEMA);
}
