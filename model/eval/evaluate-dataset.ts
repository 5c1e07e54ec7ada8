// Evaluation on a schema-described dataset (model/data/schemas/*.json), e.g. the Expedia ICDM 2013
// sample: the configured model (train-dataset's defaults) is trained on the training split, or an
// artifact directory is read, and both exports are measured on the other splits pooled, next to the
// logged order, a random order and item popularity. There is no ground truth here: every metric is
// against the logged labels.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { featureTemplate, type DatasetSchema } from '../data/dataset-schema.ts';
import { collectSlates, type DatasetSlate } from '../data/read-dataset.ts';
import { assembleTrainingSet } from '../dataset/training-set.ts';
import { parseManifest, type Manifest } from '../features/manifest.ts';
import { DATASET_TRAINING_DEFAULTS as D, scorePerSlate, trainDataset, type TrainedDatasetModel } from '../pipeline/train-dataset.ts';
import {
  baselinePolicies,
  countLabels,
  itemPopularity,
  labelMetrics,
  MODEL_PAIRS,
  modelPolicies,
  pairedNdcg,
  rowsOf,
  slateRows,
  type EvalReport,
  type TrainingInfo,
} from './offline-eval.ts';

type Log = (line: string) => void;

export interface DatasetEvalInput {
  schema: DatasetSchema;
  manifest: Manifest;
  int8: Uint8Array;
  fp32: Uint8Array;
  evalSlates: readonly DatasetSlate[];
  trainSlates: readonly DatasetSlate[];
  splits: string[];
  trainSplit: string;
  model: EvalReport['model'];
  command: string;
  notes?: string[];
  training?: TrainingInfo;
  k?: number;
  bins?: number;
  bootstrapSamples?: number;
  log?: Log;
}

/** The splits a model is reported on by default: every split but the training one. */
export function evaluationSplits(schema: DatasetSchema, trainSplit = 'train'): string[] {
  return Object.keys(schema.splits).filter((s) => s !== trainSplit);
}

export async function evaluateDatasetModel(input: DatasetEvalInput): Promise<EvalReport> {
  const { manifest, evalSlates, schema } = input;
  const log = input.log ?? (() => {});
  const k = input.k ?? D.k;
  const bins = input.bins ?? 10;
  const bootstrapSamples = input.bootstrapSamples ?? 10_000;
  if (evalSlates.length === 0) throw new Error(`no slates in ${input.splits.join('+')}`);
  const set = assembleTrainingSet(manifest, evalSlates);
  log(`scoring ${evalSlates.length} slates (${set.click.length} rows) of ${input.splits.join('+')}, one onnxruntime run per slate`);
  const int8 = await scorePerSlate(input.int8, set, evalSlates);
  const fp32 = await scorePerSlate(input.fp32, set, evalSlates);
  const rows = rowsOf(evalSlates);
  const popularity = itemPopularity(slateRows(input.trainSlates));
  const window = `the ${input.trainSplit} split (${input.trainSlates.length} slates)`;
  const policies = [...modelPolicies(evalSlates, manifest, { int8, fp32 }), ...baselinePolicies(evalSlates, popularity, window)];
  const { results, ndcgPerSlate } = labelMetrics(evalSlates, rows, policies, { k, bins, bootstrapSamples });

  // How often does popularity know the item at all?
  const seen = new Set<string>();
  for (const s of input.trainSlates) for (const item of s.items) seen.add(item.id);
  let known = 0;
  for (const s of evalSlates) for (const item of s.items) if (seen.has(item.id)) known++;
  const { clicks, purchases } = countLabels(rows);
  const notes = [
    ...(input.notes ?? []),
    `${((100 * known) / rows.click.length).toFixed(1)}% of the evaluated rows show an item that appears in the ${input.trainSplit} split; the others get popularity's prior (the window's CTR), so popularity ties them.`,
    "p_ctr is the probability of a click at position 1 (the position tower is dropped at export), while the logged clicks happened at the logged positions: against the logged labels the models' CTR logloss and calibration carry that position offset by design.",
    `NDCG@${k} against the logged labels favours the logged order: its clicks were drawn at the logged positions, so whatever the logging system put on top collected more clicks through position bias alone, whether or not it was the most relevant.`,
    `${evalSlates.length} slates: the intervals are wide; compare policies with the paired differences, which remove the between-slate variation.`,
  ];
  return {
    dataset: schema.name,
    generated_at: new Date().toISOString(),
    command: input.command,
    model: input.model,
    data: {
      description: `the ${input.splits.join(' + ')} split${input.splits.length > 1 ? 's' : ''} pooled`,
      slates: evalSlates.length,
      rows: rows.click.length,
      clicks,
      purchases,
      training_window: window,
    },
    k,
    bins,
    bootstrap_samples: bootstrapSamples,
    policies: results,
    paired: pairedNdcg(ndcgPerSlate, MODEL_PAIRS, bootstrapSamples),
    schema: { name: schema.name, description: schema.description ?? '', provenance: schema.provenance ?? null, splits: input.splits },
    ...(input.training ? { training: input.training } : {}),
    notes,
  };
}

export interface DatasetRunOptions {
  command: string;
  log: Log;
  dataRoot?: string;
  trainSplit?: string;
  splits?: string[];
  k?: number;
  bins?: number;
  bootstrapSamples?: number;
}

function passThrough(options: DatasetRunOptions) {
  return {
    ...(options.k !== undefined ? { k: options.k } : {}),
    ...(options.bins !== undefined ? { bins: options.bins } : {}),
    ...(options.bootstrapSamples !== undefined ? { bootstrapSamples: options.bootstrapSamples } : {}),
  };
}

/** Trains the configured model (train-dataset's defaults) into outDir and evaluates it. */
export async function trainAndEvaluateDataset(
  schema: DatasetSchema,
  outDir: string,
  options: DatasetRunOptions & { seeds?: number },
): Promise<{ report: EvalReport; trained: TrainedDatasetModel }> {
  const trainSplit = options.trainSplit ?? 'train';
  const splits = options.splits ?? evaluationSplits(schema, trainSplit);
  const seeds = options.seeds ?? D.seeds;
  const started = performance.now();
  const trained = await trainDataset({
    schema,
    outDir,
    ...(options.dataRoot !== undefined ? { dataRoot: options.dataRoot } : {}),
    trainSplit,
    evalSplits: splits,
    validation: D.validation,
    seeds: Array.from({ length: seeds }, (_, i) => i + 1),
    positions: D.positions,
    clipSigmas: D.clipSigmas,
    objective: D.objective,
    ndcgK: options.k ?? D.k,
    template: featureTemplate(schema),
    train: {
      epochs: D.epochs,
      patience: D.patience,
      batchSize: D.batchSize,
      learningRate: D.learningRate,
      shape: { embeddingDim: D.embeddingDim, hidden: [...D.hidden] },
      log: null,
    },
    log: options.log,
  });
  const wall = (performance.now() - started) / 1000;
  const history = trained.results.flatMap((r) => r.history);
  const seconds = history.reduce((s, e) => s + e.seconds, 0);
  const rows = history.reduce((s, e) => s + e.trainRows, 0);
  const report = await evaluateDatasetModel({
    schema,
    manifest: trained.manifest,
    int8: trained.int8,
    fp32: trained.fp32,
    evalSlates: trained.evalSlates,
    trainSlates: trained.trainSlates,
    splits,
    trainSplit,
    model: { id: trained.manifest.model.id, version: trained.manifest.model.version, source: 'trained', dir: outDir, objective: trained.manifest.objective, description: trained.manifest.model.description ?? null },
    command: options.command,
    notes: [
      `Trained by this run with train-dataset's defaults: ${seeds} seeds merged, early stopping on a 20% slate holdout of the ${trainSplit} split then refit on all of it (the evaluated splits never select anything). Training time below is the final refits only.`,
    ],
    training: {
      seconds,
      rows,
      rows_per_second: seconds > 0 ? rows / seconds : 0,
      train_rows: trained.trainSlates.reduce((n, s) => n + s.items.length, 0),
      epochs: Math.max(...trained.results.map((r) => r.history.length)),
      best_epoch: Math.max(...trained.results.map((r) => r.bestEpoch)),
      teachers: 0,
      wall_seconds: wall,
    },
    log: options.log,
    ...passThrough(options),
  });
  return { report, trained };
}

/** Evaluates an artifact directory (manifest.json + ONNX files) trained on this dataset. */
export async function evaluateDatasetArtifact(schema: DatasetSchema, dir: string, options: DatasetRunOptions): Promise<EvalReport> {
  const manifest = parseManifest(JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')));
  if (!manifest.files.fp32) throw new Error(`${dir}/manifest.json names no fp32 file`);
  if (manifest.feature_set.schema !== schema.name) {
    throw new Error(`${dir} was trained for feature set ${manifest.feature_set.schema}, not dataset ${schema.name}`);
  }
  const trainSplit = options.trainSplit ?? String((manifest.training as { train_split?: unknown } | undefined)?.train_split ?? 'train');
  const splits = options.splits ?? evaluationSplits(schema, trainSplit);
  const read = { ...(options.dataRoot !== undefined ? { dataRoot: options.dataRoot } : {}) };
  const trainSlates = await collectSlates(schema, trainSplit, read);
  const evalSlates = await collectSlates(schema, splits, read);
  return evaluateDatasetModel({
    schema,
    manifest,
    int8: new Uint8Array(await readFile(join(dir, manifest.files.model))),
    fp32: new Uint8Array(await readFile(join(dir, manifest.files.fp32))),
    evalSlates,
    trainSlates,
    splits,
    trainSplit,
    model: { id: manifest.model.id, version: manifest.model.version, source: 'artifact', dir: resolve(dir), objective: manifest.objective, description: manifest.model.description ?? null },
    command: options.command,
    log: options.log,
    ...passThrough(options),
  });
}
