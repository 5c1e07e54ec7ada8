// npx tsx model/commands/train-dataset.ts --schema <file>: trains the reference ESMM ranker on a
// schema-described dataset (model/data/schemas/*.json), exports fp32 + int8 ONNX with a manifest into
// --out (never model/artifacts: the worker bundles everything there), and prints NDCG@k and AUCs of
// both exports on the evaluation splits next to the logged order, a random order and popularity.
import { resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { loadDatasetSchema } from '../data/dataset-schema.ts';
import type { Objective } from '../features/manifest.ts';
import type { Interval } from '../eval/ranking-metrics.ts';
import { DATASET_TRAINING_DEFAULTS as D, trainDataset, type PositionUse, type ValidationPlan } from '../pipeline/train-dataset.ts';
import { epochProgress } from './epoch-progress.ts';
import { intArg } from './args.ts';

const positive = (name: string) => (value: string) => {
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError(`${name} must be a positive number`);
  return n;
};

function parseValidation(value: string): ValidationPlan {
  if (value === 'none') return { kind: 'none' };
  const holdout = /^holdout:(0?\.\d+)$/.exec(value);
  if (holdout) return { kind: 'holdout', fraction: Number(holdout[1]), seed: 1, refit: true };
  const split = /^split:([A-Za-z_][A-Za-z0-9_]*)$/.exec(value);
  if (split) return { kind: 'split', split: split[1]! };
  throw new InvalidArgumentError('--validation must be holdout:<fraction>, split:<name> or none');
}

function parsePositions(value: string): PositionUse {
  if (value === 'all' || value === 'none') return { mode: value };
  const m = /^randomized:([A-Za-z_][A-Za-z0-9_]*)$/.exec(value);
  if (m) return { mode: 'randomized_only', flag: m[1]! };
  throw new InvalidArgumentError('--positions must be all, none or randomized:<metadata flag>');
}

function parseObjective(value: string): Objective {
  if (value === 'ctr' || value === 'ctcvr') return { kind: value };
  const m = /^revenue:(\d+(?:\.\d+)?)$/.exec(value);
  if (m) return { kind: 'expected_revenue', price_exponent: Number(m[1]) };
  throw new InvalidArgumentError('--objective must be ctr, ctcvr or revenue:<price exponent>');
}

const program = new Command()
  .name('npx tsx model/commands/train-dataset.ts')
  .description('Train the reference ranker on a schema-described dataset and measure it.')
  .requiredOption('--schema <file>', 'dataset schema file, e.g. model/data/schemas/expedia-icdm2013.json')
  .option('--out <dir>', 'where to write model.int8.onnx, model.fp32.onnx and manifest.json (default .data/models/<dataset>)')
  .option('--id <id>', 'model id (default <dataset>-mtl)')
  .option('--data-root <dir>', "overrides the schema's data_root")
  .option('--train-split <name>', 'training split', 'train')
  .option('--eval <splits>', 'comma-separated splits to measure on, pooled (empty: none)', '')
  .option('--validation <plan>', 'holdout:<fraction> (refit on all after), split:<name>, or none', parseValidation, D.validation)
  .option('--seeds <n>', 'models trained with seeds 1..n and merged into one network', intArg(1), D.seeds)
  .option('--epochs <n>', 'maximum epochs (or exact epochs with --validation none)', intArg(1), D.epochs)
  .option('--patience <n>', 'early-stopping patience (epochs)', intArg(1), D.patience)
  .option('--batch-size <n>', 'minibatch rows', intArg(1), D.batchSize)
  .option('--learning-rate <x>', 'Adam step size', positive('--learning-rate'), D.learningRate)
  .option('--hidden <sizes>', 'shared-bottom hidden sizes, comma-separated', D.hidden.join(','))
  .option('--embedding-dim <n>', 'embedding width', intArg(1), D.embeddingDim)
  .option('--clip-sigmas <x>', 'cap numeric features at mean +- x standard deviations (0: off)', (v) => Number(v), D.clipSigmas)
  .option('--positions <use>', 'position tower input: all, none, randomized:<flag>', parsePositions, D.positions)
  .option('--objective <kind>', 'served objective: ctr, ctcvr, revenue:<exponent>', parseObjective, D.objective)
  .option('--k <n>', 'NDCG cut-off', intArg(1), D.k)
  .option('--json', 'print the evaluation as JSON last', false)
  .parse();

interface Options {
  schema: string;
  out?: string;
  id?: string;
  dataRoot?: string;
  trainSplit: string;
  eval: string;
  validation: ValidationPlan;
  seeds: number;
  epochs: number;
  patience: number;
  batchSize: number;
  learningRate: number;
  hidden: string;
  embeddingDim: number;
  clipSigmas: number;
  positions: PositionUse;
  objective: Objective;
  k: number;
  json: boolean;
}
const options = program.opts<Options>();

const fmt = (i: Interval) => `${i.mean.toFixed(4)} [${i.lo.toFixed(4)}, ${i.hi.toFixed(4)}]`;

async function main(): Promise<void> {
  const schema = await loadDatasetSchema(options.schema);
  const hidden = options.hidden.split(',').map((h) => Number(h));
  if (hidden.some((h) => !Number.isInteger(h) || h < 1)) throw new Error('--hidden must be comma-separated positive integers');
  const out = resolve(options.out ?? `.data/models/${schema.name}`);
  const evalSplits = options.eval.split(',').filter((s) => s !== '');
  const trained = await trainDataset({
    schema,
    outDir: out,
    ...(options.id ? { modelId: options.id } : {}),
    ...(options.dataRoot ? { dataRoot: options.dataRoot } : {}),
    trainSplit: options.trainSplit,
    evalSplits,
    validation: options.validation,
    seeds: Array.from({ length: options.seeds }, (_, i) => i + 1),
    positions: options.positions,
    clipSigmas: options.clipSigmas,
    objective: options.objective,
    ndcgK: options.k,
    train: {
      epochs: options.epochs,
      patience: options.patience,
      batchSize: options.batchSize,
      learningRate: options.learningRate,
      shape: { embeddingDim: options.embeddingDim, hidden },
      ...epochProgress(),
    },
    log: (line) => console.log(line),
  });
  console.log(`wrote ${out} (model ${trained.manifest.model.id}@${trained.manifest.model.version}, int8 ${trained.int8.byteLength} bytes, fp32 ${trained.fp32.byteLength} bytes)`);
  const e = trained.evaluation;
  if (e) {
    const k = e.k;
    console.log(`on ${e.splits.join('+')}: ${e.slates} slates, ${e.rows} rows; 95% bootstrap CIs over slates`);
    console.log(`  NDCG@${k} int8        ${fmt(e.int8.ndcg)}`);
    console.log(`  NDCG@${k} fp32        ${fmt(e.fp32.ndcg)}`);
    console.log(`  NDCG@${k} logged      ${fmt(e.baselines.logged)}`);
    console.log(`  NDCG@${k} popularity  ${fmt(e.baselines.popularity)}`);
    console.log(`  NDCG@${k} random      ${fmt(e.baselines.random)}`);
    console.log(`  int8 - fp32        ${fmt(e.int8_minus_fp32)}`);
    console.log(`  int8 - logged      ${fmt(e.int8_minus_logged)}`);
    for (const [name, m] of [['int8', e.int8], ['fp32', e.fp32]] as const) {
      console.log(`  ${name}: CTR AUC ${m.ctr.auc}, CVR AUC ${m.cvr.auc} (clicked rows), CTCVR AUC ${m.ctcvr_auc}`);
    }
    if (options.json) console.log(JSON.stringify(e));
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
