// The model validator (npm run validate): a model brought from another trainer must match its
// manifest before it is bundled. Each mismatch below is built with the bring-your-own-model
// builders (test/fixtures/byo-models.ts) and must be named by a clear error.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../model/onnx/graph.ts';
import type { SmokeReport } from '../../model/validate/smoke.ts';
import { validateModel, type ValidationReport } from '../../model/validate/validate-model.ts';
import {
  byoModels,
  quantizedNetModel,
  singleTargetLogisticModel,
  treeRegressorModel,
  withManifest,
  xgboostStyleModel,
  type ByoModel,
} from '../fixtures/byo-models.ts';

const validate = (m: ByoModel, manifest: unknown = m.manifest) => validateModel(m.bytes, manifest, { modelFileName: 'model.onnx' });
const codes = (issues: ValidationReport['errors']) => issues.map((i) => i.code);
const smokeOf = (report: ValidationReport) => report.smoke as SmokeReport;

describe('models that match their manifests', () => {
  it.each(byoModels().map((m) => [m.kind, m] as const))('%s: valid, and scores probabilities in both runtimes', async (_kind, model) => {
    const report = await validate(model);
    expect(report.errors).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.model!.inputs.map((i) => i.name)).toEqual(model.manifest.inputs.map((i) => i.name));
    const smoke = smokeOf(report);
    expect(smoke.runtimes).toEqual(['onnxruntime-node', 'onnxruntime-web']);
    // empty and random records, batches of 1 and 500, in each runtime
    expect(smoke.cases).toHaveLength(8);
    expect(smoke.cases.every((c) => c.ok)).toBe(true);
    expect(smoke.max_abs_diff_web_vs_node).toBeLessThan(1e-5);
    // The random records reach the model: its scores vary over the batch of 500.
    const random = smoke.cases.find((c) => c.records === 'random' && c.rows === 500)!;
    expect(random.p_ctr!.max).toBeGreaterThan(random.p_ctr!.min);
  });

  it('accepts the project\'s own shipped model', async () => {
    const dir = join(import.meta.dirname, '..', '..', 'model', 'artifacts', 'commerce-mtl');
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    const report = await validateModel(new Uint8Array(await readFile(join(dir, manifest.files.model))), manifest, { modelFileName: manifest.files.model });
    expect(report.errors).toEqual([]);
    expect(report.ok).toBe(true);
  });
});

describe('mismatches', () => {
  it('names every bad manifest field', async () => {
    const model = xgboostStyleModel();
    const manifest = structuredClone(model.manifest) as Record<string, any>;
    manifest.features[0].hash_buckets = 64; // a vocabulary and hash buckets
    manifest.objective = { kind: 'clicks' };
    const report = await validate(model, manifest);
    expect(report.ok).toBe(false);
    expect(codes(report.errors)).toEqual(['manifest_invalid', 'manifest_invalid']);
    expect(report.errors[0]!.message).toBe('manifest features.0: a categorical feature needs exactly one of vocab or hash_buckets');
    expect(report.errors[1]!.message).toMatch(/^manifest objective\.kind: /);
    expect(report.smoke).toEqual({ skipped: expect.any(String) });
    // Cross-field checks (zod runs them once the fields themselves parse).
    const unknown = await validate(withManifest(model, (m) => void m.inputs[0]!.features.push('no_such_feature')));
    expect(unknown.errors).toEqual([{ code: 'manifest_invalid', message: 'manifest inputs.0.features.10: unknown feature no_such_feature' }]);
  });

  it('rejects a file that is not an ONNX model', async () => {
    const report = await validateModel(new TextEncoder().encode('not a model at all'), xgboostStyleModel().manifest);
    expect(codes(report.errors)).toEqual(['model_unreadable']);
    expect(report.model).toBeNull();
  });

  it('a manifest input the model does not have (and the model input left unfed)', async () => {
    const report = await validate(withManifest(treeRegressorModel(), (m) => void (m.inputs[0]!.name = 'input')));
    expect(codes(report.errors)).toEqual(['input_missing', 'input_unfed']);
    expect(report.errors[0]!.message).toBe("manifest input 'input' is not an input of the model (model inputs: features (float32 [N, 10]))");
    expect(report.errors[1]!.message).toMatch(/model input features \(float32 \[N, 10\]\) is not fed by any manifest input/);
  });

  it('a dtype the model does not take: int32 ids for an int64 input', async () => {
    const report = await validate(withManifest(quantizedNetModel(), (m) => void (m.inputs[0]!.dtype = 'int32')));
    expect(codes(report.errors)).toEqual(['input_dtype']);
    expect(report.errors[0]!.message).toBe("input 'cat_ids': the manifest feeds int32, the model expects int64");
  });

  it('a feature count that does not match the input width', async () => {
    const report = await validate(withManifest(treeRegressorModel(), (m) => void m.inputs[0]!.features.pop()));
    expect(codes(report.errors)).toEqual(['input_width']);
    expect(report.errors[0]!.message).toMatch(/input 'features' has 10 columns \(shape \[N, 10\]\) but the manifest lists 9 features for it/);
    // the dropped feature is now declared but unused
    expect(codes(report.warnings)).toContain('feature_unused');
  });

  it('a fixed batch dimension (exported without a dynamic batch axis)', async () => {
    const report = await validate(quantizedNetModel({ batch: 1 }));
    expect(codes(report.errors)).toEqual(['input_batch_fixed', 'input_batch_fixed']);
    expect(report.errors[0]!.message).toMatch(/input 'cat_ids' has a fixed batch dimension 1 \(shape \[1, 4\]\).*dynamic batch axis/);
  });

  it('a model input the manifest does not feed', async () => {
    const report = await validate(quantizedNetModel({ extraInput: true }));
    expect(codes(report.errors)).toEqual(['input_unfed']);
    expect(report.errors[0]!.message).toMatch(/model input position \(float32 \[batch, 1\]\) is not fed/);
  });

  it('an output name the model does not have', async () => {
    const report = await validate(withManifest(quantizedNetModel(), (m) => void (m.outputs.p_ctr.name = 'p_click')));
    expect(codes(report.errors)).toEqual(['output_missing']);
    expect(report.errors[0]!.message).toBe("outputs.p_ctr names 'p_click', which is not an output of the model (model outputs: p_ctr (float32 [batch]), p_cvr (float32 [batch, 1]))");
  });

  it('a column the output does not have', async () => {
    const wide = await validate(withManifest(xgboostStyleModel(), (m) => void (m.outputs.p_cvr.column = 2)));
    expect(codes(wide.errors)).toEqual(['output_column']);
    expect(wide.errors[0]!.message).toBe("outputs.p_cvr: column 2 of output 'cvr_probabilities' [N, 2], which has 2 columns (columns count from 0)");
    const narrow = await validate(withManifest(quantizedNetModel(), (m) => {
      m.outputs.p_ctr.column = 1; // of an [N] output
      m.outputs.p_cvr.column = 1; // of an [N, 1] output
    }));
    expect(codes(narrow.errors)).toEqual(['output_column', 'output_column']);
  });

  it('an output that is not float32 (a classifier\'s label)', async () => {
    const report = await validate(withManifest(xgboostStyleModel(), (m) => void (m.outputs.p_ctr = { name: 'ctr_label' })));
    expect(codes(report.errors)).toEqual(['output_dtype']);
    expect(report.errors[0]!.message).toMatch(/output 'ctr_label' is int64; the worker reads float32 probabilities/);
  });

  it('outputs that are not probabilities (raw margins): caught by the smoke run', async () => {
    const report = await validate(treeRegressorModel({ head: 'none' }));
    expect(codes(report.errors)).toEqual(['smoke_not_probability']);
    expect(report.errors[0]!.message).toMatch(/output 'probabilities' row \d+ is -?[\d.]+, not a probability in \[0, 1\]/);
    expect(smokeOf(report).cases.some((c) => c.ok)).toBe(false);
  });

  it('a single-target tree regressor that relies on post_transform LOGISTIC (ignored by onnxruntime)', async () => {
    const report = await validate(singleTargetLogisticModel());
    expect(codes(report.warnings)).toContain('tree_post_transform_ignored');
    expect(codes(report.errors)).toEqual(['smoke_not_probability']);
  });

  it('an output that is not per row: only the smoke run sees it', async () => {
    // Sigmoid then Transpose: [10, N]. The declared shape is symbolic, so the static check can only warn.
    const g = new GraphBuilder('transposed');
    g.node('Transpose', [g.op('Sigmoid', ['features'])], ['scores'], { perm: [1, 0] });
    const bytes = g.encode([{ name: 'features', dtype: 'float32', shape: ['N', 10] }], [{ name: 'scores', dtype: 'float32', shape: ['F', 'N'] }]);
    const model = withManifest({ ...treeRegressorModel(), bytes }, (m) => void (m.outputs = { p_ctr: { name: 'scores', column: 0 }, p_cvr: { name: 'scores', column: 1 } }));
    const report = await validate(model);
    expect(codes(report.warnings)).toContain('output_width_symbolic');
    expect(codes(report.errors)).toEqual(['smoke_output_shape']);
    expect(report.errors[0]!.message).toMatch(/output 'scores' has dims \[10, 1\] for 1 rows/);
  });

  it('warns about data the worker will not have at serving time', async () => {
    const model = withManifest(xgboostStyleModel(), (m) => {
      m.features.push({ name: 'ctx_locale', kind: 'categorical', from: { source: 'context', field: 'locale' }, vocab: ['en-US', 'de-DE'] });
    });
    const report = await validate(model);
    expect(report.ok).toBe(true);
    expect(codes(report.warnings)).toEqual(['field_not_served', 'feature_unused']);
    expect(report.warnings[0]!.message).toMatch(/context\.locale is not in the worker's context record \(device, page, hour\)/);
    const otherSchema = await validate(withManifest(xgboostStyleModel(), (m) => void (m.feature_set.schema = 'my-features-v2')));
    expect(otherSchema.ok).toBe(true);
    expect(codes(otherSchema.warnings)).toEqual(['feature_set_schema']);
  });
});

describe('npm run validate', () => {
  const run = promisify(execFile);
  // --no-web: the CLI's exit codes and output; both runtimes are covered above.
  const cli = ['--import', 'tsx', 'model/commands/validate.ts'];
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'validate-'));
    for (const [name, model] of [['good', quantizedNetModel()], ['fixed', quantizedNetModel({ batch: 1 })]] as const) {
      await writeFile(join(dir, `${name}.onnx`), model.bytes);
      await writeFile(join(dir, `${name}.json`), JSON.stringify(model.manifest));
    }
    await writeFile(join(dir, 'broken.json'), '{"manifest_version": 1,');
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('exits 0 for a valid model and ends with one JSON object', async () => {
    const { stdout } = await run(process.execPath, [...cli, '--model', join(dir, 'good.onnx'), '--manifest', join(dir, 'good.json'), '--no-web', '--json']);
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(Object.keys(report)).toEqual(['ok', 'errors', 'warnings', 'model', 'smoke']);
    expect(report.ok).toBe(true);
    expect(report.model.inputs).toEqual([
      { name: 'cat_ids', dtype: 'int64', shape: ['batch', 4] },
      { name: 'dense', dtype: 'float32', shape: ['batch', 6] },
    ]);
    // a manifest written for model.onnx, validated as good.onnx
    expect(report.warnings.map((w: { code: string }) => w.code)).toEqual(['files_model']);
    expect(stdout).toMatch(/OK: the model matches its manifest/);
  });

  it('exits 1 with the errors for a model that does not match', async () => {
    const failure = await run(process.execPath, [...cli, '--model', join(dir, 'fixed.onnx'), '--manifest', join(dir, 'fixed.json'), '--no-web', '--json']).catch((e: { code: number; stdout: string }) => e);
    expect(failure).toMatchObject({ code: 1 });
    const { stdout } = failure as { stdout: string };
    expect(stdout).toMatch(/error \[input_batch_fixed\] input 'cat_ids' has a fixed batch dimension 1/);
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toMatchObject({ ok: false, errors: [{ code: 'input_batch_fixed' }, { code: 'input_batch_fixed' }] });
  });

  it('--bundle refuses a model outside model/artifacts/<dir>/ and leaves the bundle list alone', async () => {
    const bundledPath = join(import.meta.dirname, '..', '..', 'worker', 'model', 'bundled-models.ts');
    const before = await readFile(bundledPath, 'utf8');
    const failure = await run(process.execPath, [...cli, '--model', join(dir, 'good.onnx'), '--manifest', join(dir, 'good.json'), '--no-web', '--bundle']).catch((e: { code: number; stdout: string }) => e);
    expect(failure).toMatchObject({ code: 1, stdout: expect.stringMatching(/error \[bundle\] to bundle, put the model in model\/artifacts\/<id>\//) });
    expect(await readFile(bundledPath, 'utf8')).toBe(before);
  });

  it('exits 1 when the manifest is not JSON', async () => {
    const failure = await run(process.execPath, [...cli, '--model', join(dir, 'good.onnx'), '--manifest', join(dir, 'broken.json'), '--no-web']).catch((e: { code: number; stdout: string }) => e);
    expect(failure).toMatchObject({ code: 1, stdout: expect.stringMatching(/error \[manifest_invalid\] cannot read the manifest .*broken\.json: not valid JSON/) });
  });
});
