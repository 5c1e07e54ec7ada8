// npm run validate -- --model <file.onnx> --manifest <manifest.json>: checks that an ONNX model
// (the project's own, or one brought from PyTorch, XGBoost, LightGBM ...) matches its feature
// manifest and runs in onnxruntime-node and onnxruntime-web (the worker's runtime) on synthetic
// slates. Exit code 0 when it does, 1 otherwise; --json ends the output with one JSON object.
// --bundle then regenerates worker/model/bundled-models.ts (only when the model is valid).
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { writeBundledModels } from '../pipeline/artifacts.ts';
import { formatShape } from '../validate/onnx-signature.ts';
import type { SmokeReport } from '../validate/smoke.ts';
import { validateModel, type ValidationReport } from '../validate/validate-model.ts';

const program = new Command()
  .name('npm run validate --')
  .description('Validate an ONNX model against its feature manifest (see docs/bring-your-own-model.md).')
  .requiredOption('--model <file>', 'the ONNX model')
  .option('--manifest <file>', 'the manifest (default: manifest.json next to the model)')
  .option('--no-web', 'skip onnxruntime-web in the smoke run (onnxruntime-node only)')
  .option('--json', 'print one JSON object as the last line', false)
  .option('--bundle', 'when valid, regenerate worker/model/bundled-models.ts from model/artifacts/* (the model must be model/artifacts/<dir>/<files.model> beside its manifest.json)', false)
  .parse();

interface Options {
  model: string;
  manifest?: string;
  web: boolean;
  json: boolean;
  bundle: boolean;
}

interface BundleResult {
  /** artifact directories bundled, in bundle order */
  models: string[];
  /** the model id that serves when DEFAULT_MODEL is not set: the first bundled */
  default: string;
}
const options = program.opts<Options>();

function failed(code: string, message: string): ValidationReport {
  return { ok: false, errors: [{ code, message }], warnings: [], model: null, smoke: { skipped: 'nothing to run' } };
}

async function run(): Promise<ValidationReport> {
  const modelPath = resolve(options.model);
  const manifestPath = resolve(options.manifest ?? join(dirname(modelPath), 'manifest.json'));
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(modelPath));
  } catch (error) {
    return failed('model_unreadable', `cannot read the model ${modelPath}: ${(error as Error).message}`);
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch (error) {
    const why = error instanceof SyntaxError ? `not valid JSON (${error.message})` : (error as Error).message;
    return failed('manifest_invalid', `cannot read the manifest ${manifestPath}: ${why}`);
  }
  return validateModel(bytes, manifest, {
    modelFileName: basename(modelPath),
    runtimes: options.web ? ['onnxruntime-node', 'onnxruntime-web'] : ['onnxruntime-node'],
  });
}

const ROOT = resolve(import.meta.dirname, '..', '..');

/** Regenerates the worker's bundled-model list; errors when the artifact layout would not bundle this model. */
async function bundle(report: ValidationReport, modelPath: string, manifestPath: string): Promise<BundleResult | undefined> {
  const artifacts = join(ROOT, 'model', 'artifacts');
  const dir = dirname(modelPath);
  const fail = (message: string) => {
    report.errors.push({ code: 'bundle', message });
    report.ok = false;
    return undefined;
  };
  if (dirname(dir) !== artifacts) return fail(`to bundle, put the model in ${join('model', 'artifacts', '<id>')}/ (it is in ${dir})`);
  if (manifestPath !== join(dir, 'manifest.json')) return fail(`to bundle, the manifest must be ${join(dir, 'manifest.json')}`);
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { model: { id: string }; files: { model: string } };
  if (manifest.files.model !== basename(modelPath)) return fail(`to bundle, name the model ${manifest.files.model} (the manifest's files.model) or change files.model`);
  const ids = new Map<string, string>();
  for (const entry of (await readdir(artifacts, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    try {
      const other = JSON.parse(await readFile(join(artifacts, entry, 'manifest.json'), 'utf8')) as { model?: { id?: string } };
      const id = other.model?.id ?? entry;
      if (ids.has(id)) return fail(`model id '${id}' is used by both model/artifacts/${ids.get(id)} and model/artifacts/${entry}; the worker needs unique ids`);
      ids.set(id, entry);
    } catch {
      // a directory without a manifest is not bundled
    }
  }
  const models = await writeBundledModels(ROOT);
  return { models, default: [...ids.entries()].find(([, entry]) => entry === models[0])?.[0] ?? models[0]! };
}

function printSmoke(smoke: SmokeReport | { skipped: string }): void {
  if ('skipped' in smoke) {
    console.log(`smoke run: skipped (${smoke.skipped})`);
    return;
  }
  const ok = smoke.cases.filter((c) => c.ok).length;
  console.log(`smoke run: ${ok}/${smoke.cases.length} runs ok in ${smoke.runtimes.join(' and ')} (empty and random records; batches of ${[...new Set(smoke.cases.map((c) => c.rows))].join(' and ')})`);
  for (const c of smoke.cases) {
    const detail = c.ok ? `p_ctr ${c.p_ctr!.min}..${c.p_ctr!.max}, p_cvr ${c.p_cvr!.min}..${c.p_cvr!.max}` : `FAILED: ${c.error}`;
    console.log(`  ${c.runtime.padEnd(16)} ${c.records.padEnd(6)} x${String(c.rows).padEnd(4)} ${detail}`);
  }
  if (smoke.max_abs_diff_web_vs_node !== null) console.log(`  onnxruntime-web vs onnxruntime-node: max |diff| ${smoke.max_abs_diff_web_vs_node.toExponential(2)}`);
}

function print(report: ValidationReport): void {
  if (report.model) {
    const opsets = (report.model.opsets ?? []).map((o) => `${o.domain} ${o.version}`).join(', ');
    console.log(`model: ${options.model}${report.model.producer ? ` (${report.model.producer})` : ''}; opsets ${opsets}`);
    for (const t of report.model.inputs) console.log(`  input  ${t.name}: ${t.dtype} ${formatShape(t.shape)}`);
    for (const t of report.model.outputs) console.log(`  output ${t.name}: ${t.dtype} ${formatShape(t.shape)}`);
    console.log(`  operators: ${(report.model.operators ?? []).join(', ')}`);
  }
  printSmoke(report.smoke);
  for (const w of report.warnings) console.log(`warning [${w.code}] ${w.message}`);
  for (const e of report.errors) console.log(`error [${e.code}] ${e.message}`);
  console.log(report.ok ? `OK: the model matches its manifest${report.warnings.length ? ` (${report.warnings.length} warning${report.warnings.length > 1 ? 's' : ''})` : ''}` : `FAILED: ${report.errors.length} error${report.errors.length > 1 ? 's' : ''}`);
}

const report = await run();
let bundled: BundleResult | undefined;
if (options.bundle && report.ok) {
  const modelPath = resolve(options.model);
  bundled = await bundle(report, modelPath, resolve(options.manifest ?? join(dirname(modelPath), 'manifest.json')));
}
print(report);
if (bundled) {
  console.log(`worker/model/bundled-models.ts regenerated: bundles ${bundled.models.join(', ')}`);
  console.log(`the worker serves '${bundled.default}' unless DEFAULT_MODEL (wrangler.toml [vars]) names another model id`);
}
if (options.json) console.log(JSON.stringify(bundled ? { ...report, bundle: bundled } : report));
// Exit explicitly: onnxruntime-web (wasm in Node) keeps the event loop alive for seconds after its last run.
process.exit(report.ok ? 0 : 1);
