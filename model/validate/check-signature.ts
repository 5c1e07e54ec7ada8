// Static checks of a model's signature against its manifest: what the worker will feed (one
// [N, features] tensor per manifest input, of the manifest's dtype) and what it will read (one
// float32 probability per row from each named output, at the manifest's column).
import type { FieldRef, Manifest } from '../features/manifest.ts';
import { CONTEXT_RECORD_FIELDS, FEATURE_SET_SCHEMA, ITEM_RECORD_FIELDS, USER_RECORD_FIELDS } from '../features/records.ts';
import { formatShape, type OnnxSignature, type TensorInfo } from './onnx-signature.ts';

export interface Issue {
  /** stable kind of problem, e.g. input_dtype (for scripts and tests) */
  code: string;
  message: string;
}

export interface SignatureCheck {
  errors: Issue[];
  warnings: Issue[];
}

/**
 * The record fields the worker has at serving time (model/features/records.ts): what the backfill
 * writes per user and item, and the context record the worker derives from a request; plus the
 * user's and the item's id, which the request carries.
 */
const USER_FIELDS = new Set(['id', ...USER_RECORD_FIELDS]);
const ITEM_FIELDS = new Set(['id', ...ITEM_RECORD_FIELDS]);
const CONTEXT_FIELDS = new Set(CONTEXT_RECORD_FIELDS);

const describe = (t: TensorInfo) => `${t.name} (${t.dtype} ${formatShape(t.shape)})`;

function fieldRefs(feature: Manifest['features'][number]): FieldRef[] {
  if (feature.kind !== 'cross') return [feature.from];
  return feature.op === 'map_lookup' ? [feature.map, feature.key] : [feature.numerator, feature.denominator];
}

export function checkSignature(manifest: Manifest, signature: OnnxSignature, modelFileName?: string): SignatureCheck {
  const errors: Issue[] = [];
  const warnings: Issue[] = [];
  const error = (code: string, message: string) => errors.push({ code, message });
  const warn = (code: string, message: string) => warnings.push({ code, message });

  if (signature.externalInitializers.length > 0) {
    error('external_data', `${signature.externalInitializers.length} initializer(s) keep their data in separate files (e.g. ${signature.externalInitializers[0]}); the worker bundles one self-contained .onnx file: save without external data`);
  }

  // Inputs: every manifest input exists, with its dtype and an [N, features] shape.
  const modelInputs = new Map(signature.inputs.map((t) => [t.name, t]));
  const available = signature.inputs.map(describe).join(', ') || 'none';
  for (const input of manifest.inputs) {
    const width = input.features.length;
    const t = modelInputs.get(input.name);
    if (!t) {
      const optional = signature.optionalInputs.includes(input.name);
      error('input_missing', optional
        ? `manifest input '${input.name}' is an initializer (a weight) in the model, not a data input`
        : `manifest input '${input.name}' is not an input of the model (model inputs: ${available})`);
      continue;
    }
    if (t.dtype !== input.dtype) {
      error('input_dtype', `input '${input.name}': the manifest feeds ${input.dtype}, the model expects ${t.dtype}${t.dtype === 'float64' ? ' (cast the model input to float32)' : ''}`);
    }
    if (t.shape === null) {
      warn('input_shape_unknown', `input '${input.name}' declares no shape; the worker feeds [N, ${width}] (checked by the smoke run)`);
      continue;
    }
    if (t.shape.length !== 2) {
      error('input_rank', `input '${input.name}' has shape ${formatShape(t.shape)}; the worker feeds a 2-D [N, ${width}] tensor`);
      continue;
    }
    const [batch, columns] = t.shape;
    if (typeof batch === 'number') {
      error('input_batch_fixed', `input '${input.name}' has a fixed batch dimension ${batch} (shape ${formatShape(t.shape)}); slates have 1 to 500 items: export with a dynamic batch axis (torch.onnx.export dynamic_axes / dynamic_shapes, converters' [None, F] initial types)`);
    }
    if (typeof columns === 'number') {
      if (columns !== width) {
        error('input_width', `input '${input.name}' has ${columns} columns (shape ${formatShape(t.shape)}) but the manifest lists ${width} features for it: ${input.features.join(', ')}`);
      }
    } else {
      warn('input_width_symbolic', `input '${input.name}' has a symbolic feature dimension (${formatShape(t.shape)}); the worker feeds ${width} columns (checked by the smoke run)`);
    }
  }
  const fed = new Set(manifest.inputs.map((i) => i.name));
  for (const t of signature.inputs) {
    if (!fed.has(t.name)) error('input_unfed', `model input ${describe(t)} is not fed by any manifest input; add it to the manifest's inputs or remove it from the model`);
  }

  // Outputs: every named output exists, is float32, and its shape holds the column.
  const modelOutputs = new Map(signature.outputs.map((t) => [t.name, t]));
  for (const head of ['p_ctr', 'p_cvr'] as const) {
    const ref = manifest.outputs[head];
    const column = ref.column ?? 0;
    const t = modelOutputs.get(ref.name);
    if (!t) {
      error('output_missing', `outputs.${head} names '${ref.name}', which is not an output of the model (model outputs: ${signature.outputs.map(describe).join(', ')})`);
      continue;
    }
    if (t.dtype !== 'float32') {
      const hint =
        t.dtype === 'int64'
          ? " (is this a classifier's label output? name the probabilities output)"
          : t.dtype === 'sequence' || t.dtype === 'map'
            ? ' (a ZipMap output: convert without ZipMap, e.g. onnxmltools zipmap=False or skl2onnx options {"zipmap": False})'
            : t.dtype === 'float64'
              ? ' (cast it to float32 in the graph)'
              : '';
      error('output_dtype', `outputs.${head}: output '${ref.name}' is ${t.dtype}; the worker reads float32 probabilities${hint}`);
    }
    if (t.shape === null) {
      warn('output_shape_unknown', `outputs.${head}: output '${ref.name}' declares no shape (checked by the smoke run)`);
      continue;
    }
    if (t.shape.length === 0 || t.shape.length > 2) {
      error('output_rank', `outputs.${head}: output '${ref.name}' has shape ${formatShape(t.shape)}; the worker reads [N], [N, 1] or [N, K] with a column`);
      continue;
    }
    const width = t.shape.length === 1 ? 1 : t.shape[1]!;
    if (typeof width === 'number' && column >= width) {
      error('output_column', `outputs.${head}: column ${column} of output '${ref.name}' ${formatShape(t.shape)}, which has ${width} column${width === 1 ? '' : 's'} (columns count from 0)`);
    } else if (typeof width !== 'number') {
      warn('output_width_symbolic', `outputs.${head}: output '${ref.name}' has a symbolic second dimension ${formatShape(t.shape)}; column ${column} is checked by the smoke run`);
    }
    if (typeof t.shape[0] === 'number' && t.shape[0] !== 1) {
      warn('output_batch_fixed', `outputs.${head}: output '${ref.name}' declares a fixed batch dimension ${formatShape(t.shape)}`);
    }
  }

  // Operator pitfalls.
  for (const node of signature.nodes) {
    if (node.opType === 'TreeEnsembleRegressor' && node.domain === 'ai.onnx.ml') {
      const targets = typeof node.attributes.n_targets === 'number' ? node.attributes.n_targets : 1;
      const transform = node.attributes.post_transform ?? 'NONE';
      if (targets === 1 && transform !== 'NONE' && transform !== 'PROBIT') {
        warn('tree_post_transform_ignored', `TreeEnsembleRegressor '${node.name || node.outputs[0]}' has one target and post_transform ${transform}: onnxruntime ignores it for a single target and returns the raw score; add a Sigmoid node after the ensemble instead`);
      }
    }
  }

  // Serving-time data the manifest relies on.
  if (manifest.feature_set.schema !== FEATURE_SET_SCHEMA) {
    warn('feature_set_schema', `feature_set.schema is '${manifest.feature_set.schema}' but the worker's feature store holds '${FEATURE_SET_SCHEMA}' records: the worker will not read KV for this model, so every user and item feature takes its default`);
  } else {
    for (const feature of manifest.features) {
      for (const ref of fieldRefs(feature)) {
        if (ref.source === 'user' && !USER_FIELDS.has(ref.field)) {
          warn('field_not_served', `feature ${feature.name}: user.${ref.field} is not a field of ${FEATURE_SET_SCHEMA} user records, so it always takes its default`);
        } else if (ref.source === 'item' && !ITEM_FIELDS.has(ref.field)) {
          warn('field_not_served', `feature ${feature.name}: item.${ref.field} is not a field of ${FEATURE_SET_SCHEMA} item records; it has a value only when the request sends it inline with the item`);
        } else if (ref.source === 'context' && !CONTEXT_FIELDS.has(ref.field)) {
          warn('field_not_served', `feature ${feature.name}: context.${ref.field} is not in the worker's context record (${[...CONTEXT_FIELDS].join(', ')}), so it always takes its default`);
        }
      }
    }
  }
  const used = new Set(manifest.inputs.flatMap((i) => i.features));
  const unused = manifest.features.filter((f) => !used.has(f.name)).map((f) => f.name);
  if (unused.length > 0) warn('feature_unused', `feature(s) declared but fed to no input: ${unused.join(', ')}`);

  if (modelFileName !== undefined && modelFileName !== manifest.files.model) {
    warn('files_model', `manifest files.model is '${manifest.files.model}' but the model validated is '${modelFileName}'; bundling (model/pipeline/artifacts.ts) imports <artifact dir>/${manifest.files.model}`);
  }
  return { errors, warnings };
}
