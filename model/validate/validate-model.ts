// Validates an ONNX model against its feature manifest before it is bundled into the worker:
//  1. the manifest parses (every bad field named);
//  2. the model's signature matches it (check-signature.ts): inputs, dtypes, [N, features] shapes
//     with a symbolic batch, no unfed input, outputs that exist, are float32 and hold the column;
//  3. a smoke run (smoke.ts) in onnxruntime-node and onnxruntime-web on synthetic slates assembled
//     by the real FeatureAssembler: finite probabilities in [0, 1] for batches of 1 and 500.
// The smoke run is skipped when 1 or 2 already failed (it could only fail for the same reasons).
import { manifestSchema, type Manifest } from '../features/manifest.ts';
import { checkSignature, type Issue } from './check-signature.ts';
import { OnnxReadError, readOnnxSignature, type OnnxSignature, type TensorInfo } from './onnx-signature.ts';
import { smokeRun, type RuntimeName, type SmokeReport } from './smoke.ts';

export type { Issue } from './check-signature.ts';

export interface ValidationReport {
  ok: boolean;
  errors: Issue[];
  warnings: Issue[];
  model: {
    inputs: TensorInfo[];
    outputs: TensorInfo[];
    opsets?: OnnxSignature['opsets'];
    operators?: string[];
    producer?: string;
  } | null;
  smoke: SmokeReport | { skipped: string };
}

export interface ValidateOptions {
  /** the model file's name, compared with the manifest's files.model */
  modelFileName?: string;
  /** runtimes of the smoke run (default both; onnxruntime-web is what the worker runs) */
  runtimes?: RuntimeName[];
  batchSizes?: number[];
}

/** Every problem with a manifest, one issue per bad field. */
export function manifestIssues(value: unknown): { manifest?: Manifest; errors: Issue[] } {
  const result = manifestSchema.safeParse(value);
  if (result.success) return { manifest: result.data, errors: [] };
  return {
    errors: result.error.issues.map((issue) => ({
      code: 'manifest_invalid',
      message: `manifest ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    })),
  };
}

export async function validateModel(modelBytes: Uint8Array, manifestValue: unknown, options: ValidateOptions = {}): Promise<ValidationReport> {
  const errors: Issue[] = [];
  const warnings: Issue[] = [];
  const { manifest, errors: manifestErrors } = manifestIssues(manifestValue);
  errors.push(...manifestErrors);

  let signature: OnnxSignature | undefined;
  try {
    signature = readOnnxSignature(modelBytes);
  } catch (error) {
    if (!(error instanceof OnnxReadError)) throw error;
    errors.push({ code: 'model_unreadable', message: error.message });
  }
  const model: ValidationReport['model'] = signature
    ? { inputs: signature.inputs, outputs: signature.outputs, opsets: signature.opsets, operators: signature.operators, producer: signature.producer }
    : null;

  if (manifest && signature) {
    const check = checkSignature(manifest, signature, options.modelFileName);
    errors.push(...check.errors);
    warnings.push(...check.warnings);
  }

  let smoke: ValidationReport['smoke'];
  if (!manifest || !signature) {
    smoke = { skipped: 'the manifest or the model could not be read' };
  } else if (errors.length > 0) {
    smoke = { skipped: 'the model does not match its manifest (see errors)' };
  } else {
    const result = await smokeRun(modelBytes, manifest, {
      ...(options.runtimes ? { runtimes: options.runtimes } : {}),
      ...(options.batchSizes ? { batchSizes: options.batchSizes } : {}),
    });
    errors.push(...result.errors);
    warnings.push(...result.warnings);
    smoke = result.report;
  }
  return { ok: errors.length === 0, errors, warnings, model, smoke };
}
