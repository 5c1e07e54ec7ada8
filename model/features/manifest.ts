// The feature manifest: the contract between trainer, backfill and worker (DESIGN.md, "Feature
// manifest"). It is validated with zod wherever it is loaded, so a hand-written manifest for a
// brought-in model fails with a message that names the bad field instead of misbehaving later.
import { z } from 'zod';

export const SOURCES = ['user', 'item', 'context', 'request'] as const;
export type Source = (typeof SOURCES)[number];

export const fieldRefSchema = z
  .object({
    source: z.enum(SOURCES),
    field: z.string().min(1).max(64),
  })
  .strict();
export type FieldRef = z.infer<typeof fieldRefSchema>;

/** z = (clip(log1p?(x)) - mean) / std, applied after defaults fill missing values. */
export const numericTransformSchema = z
  .object({
    log1p: z.boolean().optional(),
    clip: z.tuple([z.number(), z.number()]).optional(),
    mean: z.number().finite(),
    std: z.number().finite().positive(),
  })
  .strict();
export type NumericTransform = z.infer<typeof numericTransformSchema>;

const featureName = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'lower_snake_case, at most 64 characters');

const numericFeatureSchema = z
  .object({
    name: featureName,
    kind: z.literal('numeric'),
    from: fieldRefSchema,
    default: z.number().finite(),
    transform: numericTransformSchema,
  })
  .strict();

const categoricalFeatureSchema = z
  .object({
    name: featureName,
    kind: z.literal('categorical'),
    from: fieldRefSchema,
    /** Known values get 1..vocab.length; missing or unknown values get 0. */
    vocab: z.array(z.string()).max(1_000_000).optional(),
    /** Alternative to a vocabulary for huge id spaces: 1 + fnv1a32(utf8(value)) % hash_buckets. */
    hash_buckets: z.number().int().min(1).max(1 << 24).optional(),
  })
  .strict()
  .refine((f) => (f.vocab === undefined) !== (f.hash_buckets === undefined), {
    message: 'a categorical feature needs exactly one of vocab or hash_buckets',
  });

/** user.<map>[item.<key>]: e.g. the user's affinity to the item's category. */
const mapLookupFeatureSchema = z
  .object({
    name: featureName,
    kind: z.literal('cross'),
    op: z.literal('map_lookup'),
    map: fieldRefSchema,
    key: fieldRefSchema,
    default: z.number().finite(),
    transform: numericTransformSchema,
  })
  .strict();

/** ln(numerator / denominator): e.g. the item's price relative to the user's usual price. */
const logRatioFeatureSchema = z
  .object({
    name: featureName,
    kind: z.literal('cross'),
    op: z.literal('log_ratio'),
    numerator: fieldRefSchema,
    denominator: fieldRefSchema,
    default: z.number().finite(),
    transform: numericTransformSchema,
  })
  .strict();

export const featureSpecSchema = z.union([
  numericFeatureSchema,
  categoricalFeatureSchema,
  mapLookupFeatureSchema,
  logRatioFeatureSchema,
]);
export type FeatureSpec = z.infer<typeof featureSpecSchema>;
export type NumericFeature = z.infer<typeof numericFeatureSchema>;
export type CategoricalFeature = z.infer<typeof categoricalFeatureSchema>;
export type CrossFeature = z.infer<typeof mapLookupFeatureSchema> | z.infer<typeof logRatioFeatureSchema>;

export const INPUT_DTYPES = ['float32', 'int64', 'int32'] as const;
export type InputDType = (typeof INPUT_DTYPES)[number];

export const modelInputSchema = z
  .object({
    name: z.string().min(1),
    dtype: z.enum(INPUT_DTYPES),
    /** Column order of the [N, features.length] tensor. */
    features: z.array(featureName).min(1),
  })
  .strict();
export type ModelInput = z.infer<typeof modelInputSchema>;

export const outputRefSchema = z
  .object({
    name: z.string().min(1),
    /** For [N, K] outputs (e.g. a classifier's probabilities), the column holding the probability. */
    column: z.number().int().min(0).optional(),
  })
  .strict();
export type OutputRef = z.infer<typeof outputRefSchema>;

export const objectiveSchema = z.discriminatedUnion('kind', [
  /** score = p_ctr * p_cvr * price^price_exponent */
  z.object({ kind: z.literal('expected_revenue'), price_exponent: z.number().min(0).max(2) }).strict(),
  z.object({ kind: z.literal('ctr') }).strict(),
  z.object({ kind: z.literal('ctcvr') }).strict(),
]);
export type Objective = z.infer<typeof objectiveSchema>;

export const manifestSchema = z
  .object({
    manifest_version: z.literal(1),
    model: z
      .object({
        id: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/),
        version: z.string().min(1).max(64),
        created_at: z.string().optional(),
        description: z.string().optional(),
        quantization: z.string().optional(),
      })
      .strict(),
    feature_set: z.object({ schema: z.string().min(1).max(64) }).strict(),
    files: z.object({ model: z.string().min(1), fp32: z.string().min(1).optional() }).strict(),
    features: z.array(featureSpecSchema).min(1),
    inputs: z.array(modelInputSchema).min(1),
    outputs: z.object({ p_ctr: outputRefSchema, p_cvr: outputRefSchema }).strict(),
    objective: objectiveSchema,
    metrics: z.record(z.string(), z.unknown()).optional(),
    training: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    const names = new Set<string>();
    m.features.forEach((f, i) => {
      if (names.has(f.name)) ctx.addIssue({ code: 'custom', path: ['features', i, 'name'], message: `duplicate feature ${f.name}` });
      names.add(f.name);
    });
    m.inputs.forEach((input, i) => {
      input.features.forEach((name, j) => {
        const spec = m.features.find((f) => f.name === name);
        // Categorical indices may fill a float input (tree models split on them); numeric values
        // cannot fill an integer input.
        if (!spec) {
          ctx.addIssue({ code: 'custom', path: ['inputs', i, 'features', j], message: `unknown feature ${name}` });
        } else if (spec.kind !== 'categorical' && input.dtype !== 'float32') {
          ctx.addIssue({
            code: 'custom',
            path: ['inputs', i, 'features', j],
            message: `numeric feature ${name} cannot fill the ${input.dtype} input ${input.name}`,
          });
        }
      });
    });
  });
export type Manifest = z.infer<typeof manifestSchema>;

/** Parses and validates a manifest; throws an Error whose message lists every bad field. */
export function parseManifest(value: unknown): Manifest {
  const result = manifestSchema.safeParse(value);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new Error(`invalid feature manifest:\n${lines.join('\n')}`);
  }
  return result.data;
}
