// npm run eval: offline evaluation of the ranker against baselines, with an HTML report.
//   --dataset world                          the shipped model (model/artifacts/commerce-mtl) on its
//                                            regenerated world, against the ground truth
//   --dataset world --train --impressions N  a model trained here on a world of N impressions
//   --dataset world --learning-curve a,b,c   one trained model per size, and the curve
//   --dataset <schema name>                  a schema-described dataset (model/data/schemas/*.json):
//                                            trains the configured model, or --model <dir>
// With --json the last stdout line is one JSON object (model/eval/summary.ts).
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { loadDatasetSchema } from '../data/dataset-schema.ts';
import { REPO_ROOT } from '../data/read-dataset.ts';
import { evaluateDatasetArtifact, trainAndEvaluateDataset } from '../eval/evaluate-dataset.ts';
import { evaluateWorldArtifact, learningPoint, trainAndEvaluateWorld } from '../eval/evaluate-world.ts';
import type { EvalReport, LearningPoint } from '../eval/offline-eval.ts';
import { renderPng } from '../eval/report/png.ts';
import { renderReport } from '../eval/report/render.ts';
import { evalSummary } from '../eval/summary.ts';
import { writeArtifact } from '../pipeline/artifacts.ts';
import { isPresetName, worldSettings, type PresetName } from '../world/index.ts';
import { epochProgress } from './epoch-progress.ts';
import { addShapeOptions, referenceDistill, referenceTraining, type ShapeOptions } from './shape-options.ts';
import { intArg } from './args.ts';

function parseSizes(value: string): number[] {
  const sizes = value.split(',').map((s) => Number(s.trim().replace(/_/g, '')));
  if (sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n < 1000)) throw new InvalidArgumentError('--learning-curve must be comma-separated integers >= 1000');
  return [...sizes].sort((a, b) => a - b);
}

const program = addShapeOptions(new Command())
  .name('npm run eval --')
  .description('Evaluate the ranker (int8 and fp32) against random, logged-order and popularity baselines (and the oracle on the world), and write an HTML report.')
  .requiredOption('--dataset <name>', "'world', or a dataset schema name under model/data/schemas/ (e.g. expedia-icdm2013)")
  .option('--model <dir>', 'artifact directory (manifest.json + ONNX) to evaluate; world default model/artifacts/commerce-mtl, datasets default: train the configured model')
  .option('--train', 'world: train a model in-process instead of evaluating an artifact', false)
  .option('--impressions <n>', 'world --train: impressions in the log (default: the preset\'s)', intArg(1000))
  .option('--preset <name>', 'world --train / --learning-curve: world preset tiny | demo | 1m', '1m')
  .option('--seed <n>', 'world --train: world seed', intArg(0))
  .option('--days <n>', 'world --train: days in the log (default: the preset\'s)', intArg(2))
  .option('--learning-curve <sizes>', 'world: train and evaluate at each log size, e.g. 100000,300000,1000000,3000000', parseSizes)
  .option('--epochs <n>', 'world training: maximum epochs (early stopping)', intArg(1), 8)
  .option('--train-seed <n>', 'world training: trainer seed', intArg(0), 1)
  .option('--validation-days <n>', 'world training: days held out at the end of the log', intArg(1), 3)
  .option('--seeds <n>', 'dataset training: seeds merged (default: the configured model\'s)', intArg(1))
  .option('--out <dir>', 'where the report (and a model trained here) go; default next to --model, else .data/eval/<run>')
  .option('--data <dir>', 'where worlds are generated', '.data')
  .option('--png [file]', 'also screenshot the report with headless Chromium (default: next to the report)')
  .option('--k <n>', 'NDCG cut-off', intArg(1), 10)
  .option('--bins <n>', 'reliability bins (equal mass)', intArg(2), 10)
  .option('--bootstrap <n>', 'bootstrap resamples', intArg(100), 10_000)
  .option('--json', 'print one JSON summary as the last line', false)
  .parse();

interface Options extends ShapeOptions {
  dataset: string;
  model?: string;
  train: boolean;
  impressions?: number;
  preset: string;
  seed?: number;
  days?: number;
  learningCurve?: number[];
  epochs: number;
  trainSeed: number;
  validationDays: number;
  seeds?: number;
  out?: string;
  data: string;
  png?: string | boolean;
  k: number;
  bins: number;
  bootstrap: number;
  json: boolean;
}
const options = program.opts<Options>();
const log = (line: string) => console.log(line);
const command = `npm run eval -- ${process.argv.slice(2).join(' ')}`;
const common = { command, log, k: options.k, bins: options.bins, bootstrapSamples: options.bootstrap };

function presetSettings(impressions?: number) {
  if (!isPresetName(options.preset)) throw new Error(`--preset must be one of tiny, demo, 1m; got '${options.preset}'`);
  return worldSettings(options.preset as PresetName, {
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.days !== undefined ? { days: options.days } : {}),
    ...(impressions !== undefined ? { impressions } : {}),
  });
}

// The reference recipe, as `npm run train` uses it (before, these runs trained the default shape).
const trainOptions = () => ({ ...referenceTraining(options), epochs: options.epochs, seed: options.trainSeed, ...epochProgress(log) });

async function runWorld(): Promise<{ report: EvalReport; outDir: string }> {
  if (options.learningCurve) {
    if (options.model || options.train) throw new Error('--learning-curve trains its own models: drop --model and --train');
    const points: LearningPoint[] = [];
    let last: EvalReport | undefined;
    for (const [i, impressions] of options.learningCurve.entries()) {
      const settings = presetSettings(impressions);
      log(`learning curve ${i + 1}/${options.learningCurve.length}: ${impressions.toLocaleString('en-US')} impressions (preset ${settings.name}, ${settings.users} users, ${settings.items} items, ${settings.days} days)`);
      const { report } = await trainAndEvaluateWorld(settings, { ...common, dataDir: resolve(options.data), validationDays: options.validationDays, train: trainOptions(), distill: referenceDistill(options) });
      const point = learningPoint(impressions, report);
      points.push(point);
      log(
        `learning curve ${i + 1}/${options.learningCurve.length}: ${impressions.toLocaleString('en-US')} impressions -> CTR AUC (expected) ${point.ctr_auc.toFixed(4)}, revenue/slate ${point.revenue_per_slate.toFixed(3)}, gap closed AUC ${point.gap_closed.auc.toFixed(3)} revenue ${point.gap_closed.revenue.toFixed(3)}; trained ${point.train_seconds.toFixed(1)} s at ${Math.round(point.rows_per_second)} rows/s`,
      );
      last = report;
    }
    last!.learning_curve = points;
    last!.notes.unshift(`The figures outside the learning-curve section are those of its largest point (${points.at(-1)!.impressions.toLocaleString('en-US')} impressions).`);
    return { report: last!, outDir: resolve(options.out ?? join(options.data, 'eval', `learning-curve-${options.preset}`)) };
  }
  if (options.train) {
    if (options.model) throw new Error('--train trains its own model: drop --model');
    const settings = presetSettings(options.impressions);
    const { report, trained } = await trainAndEvaluateWorld(settings, { ...common, dataDir: resolve(options.data), validationDays: options.validationDays, train: trainOptions(), distill: referenceDistill(options) });
    const outDir = resolve(options.out ?? join(options.data, 'eval', `world-${settings.name}-seed${settings.seed}-${settings.impressions}`));
    await writeArtifact(outDir, trained.manifest, trained.int8, trained.fp32);
    report.model.dir = outDir;
    log(`wrote the trained model to ${outDir}`);
    return { report, outDir };
  }
  const dir = resolve(options.model ?? join(REPO_ROOT, 'model', 'artifacts', 'commerce-mtl'));
  const report = await evaluateWorldArtifact(dir, { ...common, dataDir: resolve(options.data) });
  return { report, outDir: resolve(options.out ?? dir) };
}

async function runDataset(): Promise<{ report: EvalReport; outDir: string }> {
  if (options.train || options.learningCurve || options.impressions !== undefined) throw new Error('--train, --impressions and --learning-curve are for --dataset world');
  const schemaDir = join(REPO_ROOT, 'model', 'data', 'schemas');
  const schemaPath = options.dataset.endsWith('.json') ? resolve(options.dataset) : join(schemaDir, `${options.dataset}.json`);
  if (!existsSync(schemaPath)) {
    const known = readdirSync(schemaDir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length));
    throw new Error(`no dataset '${options.dataset}': --dataset takes 'world', a schema name under model/data/schemas/ (${known.join(', ')}) or a path to a schema .json`);
  }
  const schema = await loadDatasetSchema(schemaPath);
  if (options.model) {
    const dir = resolve(options.model);
    const report = await evaluateDatasetArtifact(schema, dir, common);
    return { report, outDir: resolve(options.out ?? dir) };
  }
  const outDir = resolve(options.out ?? join(options.data, 'eval', schema.name));
  const { report } = await trainAndEvaluateDataset(schema, outDir, { ...common, ...(options.seeds !== undefined ? { seeds: options.seeds } : {}) });
  return { report, outDir };
}

function printSummary(report: EvalReport): void {
  const row = (label: string, value: string) => console.log(`  ${label.padEnd(26)} ${value}`);
  console.log(`${report.dataset}: ${report.model.id}@${report.model.version} on ${report.data.slates} slates, ${report.data.rows} rows (${report.data.description})`);
  for (const p of report.policies) {
    const world = p.world ? `, CTR AUC exp. ${p.ctr.auc_expected?.toFixed(4) ?? 'n/a'}, revenue/slate ${p.world.revenue_per_slate.toFixed(3)}` : '';
    row(p.label, `NDCG@${report.k} ${p.ndcg.mean.toFixed(4)} [${p.ndcg.lo.toFixed(4)}, ${p.ndcg.hi.toFixed(4)}], CTR AUC ${p.ctr.auc?.toFixed(4) ?? 'n/a'}, CVR AUC ${p.cvr.auc?.toFixed(4) ?? 'n/a'}${world}`);
  }
  for (const d of report.paired) row(d.name, `NDCG@${report.k} ${d.ndcg.mean.toFixed(4)} [${d.ndcg.lo.toFixed(4)}, ${d.ndcg.hi.toFixed(4)}]`);
  if (report.world) row('gap closed (int8)', `CTR AUC ${report.world.gap_closed.auc.toFixed(3)}, revenue ${report.world.gap_closed.revenue.toFixed(3)}`);
}

async function main(): Promise<void> {
  const machine = { cpus: cpus().length, cpu_model: cpus()[0]?.model ?? 'unknown', node: process.version, load_average_at_start: Number(loadavg()[0]!.toFixed(2)) };
  const { report, outDir } = options.dataset === 'world' ? await runWorld() : await runDataset();
  report.machine = machine;
  const htmlPath = join(outDir, `report-${report.dataset}.html`);
  await mkdir(dirname(htmlPath), { recursive: true });
  await writeFile(htmlPath, renderReport(report));
  // The whole evaluation (reliability bins, intervals, notes): for diffs between runs and re-rendering.
  await writeFile(htmlPath.replace(/\.html$/, '.json'), `${JSON.stringify(report, null, 2)}\n`);
  printSummary(report);
  console.log(`wrote ${htmlPath} (and .json)`);
  let pngPath: string | null = null;
  if (options.png) {
    const target = typeof options.png === 'string' ? resolve(options.png) : htmlPath.replace(/\.html$/, '.png');
    const why = await renderPng(htmlPath, target);
    if (why) console.log(`no PNG: ${why}`);
    else {
      pngPath = target;
      console.log(`wrote ${target}`);
    }
  }
  if (options.json) console.log(JSON.stringify(evalSummary(report, { report: htmlPath, png: pngPath })));
}

main().catch((error: unknown) => {
  console.error(`eval failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
