// npm run validate -- --model <file.onnx> --manifest <manifest.json>: checks that an ONNX model
// (the project's own, or one brought from PyTorch, XGBoost, LightGBM ...) matches its feature
// manifest and runs in onnxruntime-node and onnxruntime-web (the worker's runtime) on synthetic
// slates. Exit code 0 when it does, 1 otherwise; --json ends the output with one JSON object.
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
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
  .parse();

interface Options {
  model: string;
  manifest?: string;
  web: boolean;
  json: boolean;
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
print(report);
if (options.json) console.log(JSON.stringify(report));
// Exit explicitly: onnxruntime-web (wasm in Node) keeps the event loop alive for seconds after its last run.
process.exit(report.ok ? 0 : 1);
