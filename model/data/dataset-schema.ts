// Dataset schema files: a JSON document that maps a logged dataset (files, splits, columns) onto the
// one impression-log shape the trainer reads (model/dataset/slates.ts, LabelledSlate), so that a new
// dataset needs a schema file, not code. Validated with zod; every error names the bad field of the
// file (e.g. `records.item.stars.type`), as parseManifest does for manifests.
//
// What a schema says:
//   - format: how rows are stored (csv now; jsonl and parquet are reserved names the reader rejects
//     with a clear message until someone writes them)
//   - splits: named splits -> file(s), relative to data_root
//   - impression: which columns are the request id, the time (with its parse rule), the user id
//     (optional: without one every request is anonymous), the item id, the logged position and the
//     labels (clicked, purchased) and the shown price
//   - records: which other columns become raw fields of the user, item and context records, with
//     their types. The user and context records are taken from a request's first row; the item
//     record is per impression (the item's KV record at serving time). `inline` fields are per
//     impression too but belong to the request, not the item (e.g. a user-to-hotel distance): the
//     caller sends them with each item, as it sends the shown price, and features read them from
//     the `request` source.
//   - slate_metadata: columns that describe how the slate was logged (e.g. Expedia's random_bool),
//     exposed per slate for training and evaluation but never a feature: the worker cannot know them
//   - feature_template: optionally, the dataset's features (manifest FeatureSpecs, `vocab: []` = fit
//     from data) and the model inputs, checked against the declared records.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { featureSpecSchema, modelInputSchema, type FeatureSpec, type FieldRef, type ModelInput } from '../features/manifest.ts';

export const DATASET_SCHEMA_VERSION = 1;

/** number: a finite number; string: the text as is; flag: 0/1 (also true/false), stored as 0 or 1. */
export const FIELD_TYPES = ['number', 'string', 'flag'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** How a column's text becomes a timestamp (epoch milliseconds). */
export const TIME_PARSE_RULES = [
  /** `YYYY-MM-DD[ T]HH:MM[:SS[.fff]]` without a zone, read as UTC (Expedia, most warehouse dumps) */
  'datetime_utc',
  /** ISO 8601 with an explicit zone (`Z` or `+hh:mm`) */
  'iso8601',
  'epoch_seconds',
  'epoch_millis',
] as const;
export type TimeParseRule = (typeof TIME_PARSE_RULES)[number];

/** Value maps applied when a number is read, before it reaches a record (e.g. a log price -> price). */
export const VALUE_MAPS = ['exp', 'log'] as const;
export type ValueMap = (typeof VALUE_MAPS)[number];

const columnName = z.string().min(1).max(256);
/** Record field names are what manifest FieldRefs name (at most 64 characters there). */
const fieldName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'letters, digits and _, at most 64 characters, not starting with a digit');
const missingList = z.array(z.string()).max(32);

const fieldObjectSchema = z
  .object({
    /** the column to read; defaults to the field's own name */
    column: columnName.optional(),
    type: z.enum(FIELD_TYPES),
    /**
     * spellings of a missing value for this column only (replaces the schema-wide list); for number
     * fields a spelling that is a number matches by value ("0" also matches "0.0")
     */
    missing: missingList.optional(),
    /** for number fields: exp or log of the value read (log of a value <= 0 is missing) */
    map: z.enum(VALUE_MAPS).optional(),
  })
  .strict()
  .refine((f) => f.map === undefined || f.type === 'number', { message: 'map applies to number fields only', path: ['map'] });

/** A record field: `"type"` shorthand (the column has the field's name) or the full object. */
const fieldSchema = z.union([z.enum(FIELD_TYPES), fieldObjectSchema]);
export type FieldDeclaration = z.infer<typeof fieldSchema>;

export interface ResolvedField {
  name: string;
  column: string;
  type: FieldType;
  /** undefined = the schema-wide list */
  missing: string[] | undefined;
  map: ValueMap | undefined;
}

const recordSchema = z.record(fieldName, fieldSchema);

const columnRef = z.union([columnName, z.object({ column: columnName }).strict()]);

const formatSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('csv'),
      delimiter: z.string().length(1).default(','),
      /** rows of one request are contiguous, so slates can be streamed (false: a split is buffered) */
      grouped_by_request: z.boolean().default(true),
    })
    .strict(),
  z.object({ kind: z.literal('jsonl'), grouped_by_request: z.boolean().default(true) }).strict(),
  z.object({ kind: z.literal('parquet'), grouped_by_request: z.boolean().default(true) }).strict(),
]);

const timeSchema = z
  .object({
    column: columnName,
    parse: z.enum(TIME_PARSE_RULES),
  })
  .strict();

const positionSchema = z.union([
  columnName,
  z
    .object({
      column: columnName,
      /** 1: the first slot is 1 (default); 0: the first slot is 0 and 1 is added on reading */
      base: z.union([z.literal(0), z.literal(1)]).default(1),
    })
    .strict(),
]);

const impressionSchema = z
  .object({
    request_id: columnRef,
    time: timeSchema,
    /** null or absent: the dataset has no user id, every request is anonymous */
    user_id: columnRef.nullable().optional(),
    item_id: columnRef,
    position: positionSchema,
    clicked: columnRef,
    purchased: columnRef,
    /** the shown price: the item record's `price` and the inline `price` (sent with the request) */
    price: columnRef,
  })
  .strict();

/**
 * Feature specs as in the manifest, except that a numeric or cross feature's transform may leave
 * out mean and std (fitted later; filled with 0 and 1 here so the manifest's own schema applies).
 */
const templateFeatureSchema = z.preprocess((value) => {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const f = value as Record<string, unknown>;
    if ((f.kind === 'numeric' || f.kind === 'cross') && f.transform && typeof f.transform === 'object' && !Array.isArray(f.transform)) {
      return { ...f, transform: { mean: 0, std: 1, ...(f.transform as Record<string, unknown>) } };
    }
  }
  return value;
}, featureSpecSchema);

const featureTemplateSchema = z
  .object({
    features: z.array(templateFeatureSchema).min(1),
    inputs: z.array(modelInputSchema).min(1),
  })
  .strict();

const splitFiles = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

export const datasetSchemaSchema = z
  .object({
    schema_version: z.literal(DATASET_SCHEMA_VERSION),
    /** the dataset's name; trained manifests carry it as feature_set.schema */
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lowercase letters, digits, . _ -, at most 64 characters'),
    description: z.string().optional(),
    /** licence and where the files came from: recorded with trained models */
    provenance: z.string().optional(),
    /** where split paths are resolved; relative to the repository root unless the reader is given one */
    data_root: z.string().min(1),
    format: formatSchema,
    /** how a missing value is spelled in every column (a field may override it) */
    missing: missingList.default(['']),
    splits: z.record(fieldName, splitFiles).refine((s) => Object.keys(s).length > 0, { message: 'at least one split' }),
    impression: impressionSchema,
    records: z
      .object({
        user: recordSchema.default({}),
        item: recordSchema.default({}),
        context: recordSchema.default({}),
        /** per-impression values sent with the request's items (ItemRow.inline), next to the price */
        inline: recordSchema.default({}),
      })
      .strict(),
    /** per-slate columns about how the slate was logged; never features */
    slate_metadata: recordSchema.default({}),
    feature_template: featureTemplateSchema.optional(),
  })
  .strict()
  .superRefine((schema, ctx) => checkConsistency(schema, ctx));

export type DatasetSchema = z.infer<typeof datasetSchemaSchema>;
export type DatasetSchemaInput = z.input<typeof datasetSchemaSchema>;
export type RecordSource = 'user' | 'item' | 'context' | 'inline';
export const RECORD_SOURCES: readonly RecordSource[] = ['user', 'item', 'context', 'inline'];

export class DatasetSchemaError extends Error {
  override name = 'DatasetSchemaError';
}

export function columnOf(ref: string | { column: string }): string {
  return typeof ref === 'string' ? ref : ref.column;
}

export function resolveField(name: string, declaration: FieldDeclaration): ResolvedField {
  if (typeof declaration === 'string') return { name, column: name, type: declaration, missing: undefined, map: undefined };
  return { name, column: declaration.column ?? name, type: declaration.type, missing: declaration.missing, map: declaration.map };
}

/** The record fields of one source, resolved, in declaration order. */
export function recordFields(schema: DatasetSchema, source: RecordSource | 'slate_metadata'): ResolvedField[] {
  const record = source === 'slate_metadata' ? schema.slate_metadata : schema.records[source];
  return Object.entries(record).map(([name, declaration]) => resolveField(name, declaration));
}

/** The position column and its base. */
export function positionColumn(schema: DatasetSchema): { column: string; base: 0 | 1 } {
  const p = schema.impression.position;
  return typeof p === 'string' ? { column: p, base: 1 } : { column: p.column, base: p.base };
}

/** Files of a split, as written in the schema (relative to data_root). */
export function splitFilesOf(schema: DatasetSchema, split: string): string[] {
  const files = schema.splits[split];
  if (files === undefined) {
    throw new DatasetSchemaError(`dataset ${schema.name} has no split '${split}' (splits: ${Object.keys(schema.splits).join(', ')})`);
  }
  return typeof files === 'string' ? [files] : files;
}

/** The field names a FieldRef may name in each source, given the schema's records. */
export function availableFields(schema: DatasetSchema): Record<'user' | 'item' | 'context' | 'request', Set<string>> {
  const user = new Set(Object.keys(schema.records.user));
  if (schema.impression.user_id) user.add('id');
  return {
    user,
    // the item source also sees inline fields (an inline value wins over the stored one)
    item: new Set(['id', 'price', ...Object.keys(schema.records.item), ...Object.keys(schema.records.inline)]),
    context: new Set(Object.keys(schema.records.context)),
    // the request's inline fields: the item id, the shown price and the declared inline fields
    request: new Set(['id', 'price', ...Object.keys(schema.records.inline)]),
  };
}

function checkConsistency(schema: DatasetSchema, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  const imp = schema.impression;
  const pos = positionColumn(schema);
  // Columns that must never become features: the logged position (the position tower's input
  // only), the labels (leakage) and the logged-order metadata (unknown at serving time).
  const forbidden = new Map<string, string>([
    [pos.column, 'the logged position (a training-only input of the position tower, never a served feature)'],
    [columnOf(imp.clicked), 'the click label'],
    [columnOf(imp.purchased), 'the purchase label'],
  ]);
  for (const [name, declaration] of Object.entries(schema.slate_metadata)) {
    forbidden.set(resolveField(name, declaration).column, `slate metadata (slate_metadata.${name}: logged order only, unknown when serving)`);
  }

  for (const source of RECORD_SOURCES) {
    for (const [name, declaration] of Object.entries(schema.records[source])) {
      const field = resolveField(name, declaration);
      const why = forbidden.get(field.column);
      if (why) issue(['records', source, name], `column ${field.column} is ${why}; it cannot be a record field`);
      if (name === 'id') issue(['records', source, name], `'id' is reserved for the ${source} id`);
      if ((source === 'item' || source === 'inline') && name === 'price') {
        issue(['records', source, name], `'price' is reserved for the impression's price (impression.price)`);
      }
      if (source === 'inline' && name in schema.records.item) issue(['records', source, name], `${name} is also an item field; an inline value would hide it`);
    }
  }
  for (const [name, declaration] of Object.entries(schema.slate_metadata)) {
    const field = resolveField(name, declaration);
    if (field.column === pos.column) issue(['slate_metadata', name], `column ${field.column} is the position, which is per row, not per slate`);
  }

  const template = schema.feature_template;
  if (!template) return;
  const fields = availableFields(schema);
  const checkRef = (ref: FieldRef, path: (string | number)[]) => {
    const known = fields[ref.source];
    if (!known.has(ref.field)) {
      const hint =
        ref.source === 'user' && ref.field === 'id' && !schema.impression.user_id
          ? 'the dataset has no user id (impression.user_id is not set)'
          : `declared ${ref.source} fields: ${[...known].sort().join(', ') || '(none)'}`;
      issue([...path, 'field'], `unknown ${ref.source} field ${ref.field}; ${hint}`);
    }
  };
  const names = new Set<string>();
  template.features.forEach((f: FeatureSpec, i) => {
    const at = ['feature_template', 'features', i];
    if (names.has(f.name)) issue([...at, 'name'], `duplicate feature ${f.name}`);
    names.add(f.name);
    if (f.kind === 'cross') {
      if (f.op === 'map_lookup') {
        checkRef(f.map, [...at, 'map']);
        checkRef(f.key, [...at, 'key']);
      } else {
        checkRef(f.numerator, [...at, 'numerator']);
        checkRef(f.denominator, [...at, 'denominator']);
      }
    } else {
      checkRef(f.from, [...at, 'from']);
    }
  });
  template.inputs.forEach((input: ModelInput, i) => {
    input.features.forEach((name, j) => {
      const spec = template.features.find((f) => f.name === name);
      const at = ['feature_template', 'inputs', i, 'features', j];
      if (!spec) issue(at, `unknown feature ${name}`);
      else if (spec.kind !== 'categorical' && input.dtype !== 'float32') issue(at, `numeric feature ${name} cannot fill the ${input.dtype} input ${input.name}`);
    });
  });
}

/** Validates a parsed schema document; throws a DatasetSchemaError listing every bad field. */
export function parseDatasetSchema(value: unknown, source = 'dataset schema'): DatasetSchema {
  const result = datasetSchemaSchema.safeParse(value);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new DatasetSchemaError(`invalid dataset schema (${source}):\n${lines.join('\n')}`);
  }
  return result.data;
}

/** Reads and validates a schema file. */
export async function loadDatasetSchema(path: string): Promise<DatasetSchema> {
  const text = await readFile(path, 'utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new DatasetSchemaError(`invalid dataset schema (${path}): not JSON: ${(error as Error).message}`);
  }
  return parseDatasetSchema(value, path);
}

/** The schema's feature template, or an error naming the schema when it has none. */
export function featureTemplate(schema: DatasetSchema): { features: FeatureSpec[]; inputs: ModelInput[] } {
  if (!schema.feature_template) throw new DatasetSchemaError(`dataset schema ${schema.name} has no feature_template`);
  return { features: schema.feature_template.features as FeatureSpec[], inputs: schema.feature_template.inputs };
}
