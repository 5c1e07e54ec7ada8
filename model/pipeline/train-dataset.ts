// Trains the reference ESMM network (model/train) on a dataset described by a schema file
// (model/data/dataset-schema.ts): fit the schema's feature template on the training split, assemble
// with the shared feature module, train (optionally several seeds merged into one network), export
// fp32 and int8 ONNX, and measure both exports as onnxruntime scores them, including NDCG@k of the
// served order against the logged order, a random order and an item-popularity prior.
//
// Validation (early stopping) never touches the splits the model is reported on. The default holds
// out a seeded fraction of the training split's slates (whole slates, never rows of one slate on
// both sides), picks the epoch count there, then refits on the whole training split for that many
// epochs. For Expedia this matters: its target metric is measured on eval+test together, so
// early-stopping on eval would select on the reported data.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { featureTemplate, type DatasetSchema } from '../data/dataset-schema.ts';
import { collectSlates, REPO_ROOT, type DatasetSlate } from '../data/read-dataset.ts';
import { assembleTrainingSet } from '../dataset/training-set.ts';
import { ndcgPerSlate, bootstrapMeanCI, pairedBootstrapCI, slateRelevance, type Interval, type RelevanceGrades, DEFAULT_GRADES } from '../eval/ranking-metrics.ts';
import { fitFeatures, type FitOptions } from '../features/fit.ts';
import { parseManifest, type FeatureSpec, type Manifest, type ModelInput, type Objective } from '../features/manifest.ts';
import { exportFp32 } from '../onnx/export.ts';
import { exportInt8, INT8_QUANTIZATION } from '../onnx/quantize.ts';
import { scoreTrainingRows } from '../onnx/score-node.ts';
import { mergeEnsemble } from '../train/ensemble.ts';
import { auc, both, logloss } from '../train/metrics.ts';
import { predict } from '../train/predict.ts';
import { Rng } from '../train/random.ts';
import { train, type TrainOptions, type TrainResult } from '../train/trainer.ts';
import type { RankerModel, TrainingSet } from '../train/types.ts';
import { objectiveScores } from '../../worker/rank/objective.ts';

/**
 * How the training-only position tower sees logged positions:
 *  - all: every slate's positions (the tower absorbs position bias, and with a ranked log also the
 *    logging ranker's relevance signal);
 *  - randomized_only: only slates whose metadata flag (e.g. Expedia's random_bool) says they were
 *    shown in random order; other slates are trained as if every item were at position 1, so the
 *    network also learns what the logging ranker put on top;
 *  - none: no position input at all.
 */
export type PositionUse = { mode: 'all' } | { mode: 'none' } | { mode: 'randomized_only'; flag: string };

export type ValidationPlan =
  /** hold out this fraction of the training split's slates (seeded), then refit on all of them */
  | { kind: 'holdout'; fraction: number; seed?: number; refit?: boolean }
  /** early-stop on another split of the schema (no refit) */
  | { kind: 'split'; split: string }
  /** no validation: train exactly train.epochs epochs */
  | { kind: 'none' };

export interface TrainDatasetOptions {
  schema: DatasetSchema;
  /** default `<schema.name>-mtl` */
  modelId?: string;
  /** overrides the schema's data_root */
  dataRoot?: string;
  /** default 'train' */
  trainSplit?: string;
  /** default a 20% slate holdout of the training split with refit */
  validation?: ValidationPlan;
  /** splits the exports are measured on, pooled (default: none) */
  evalSplits?: string[];
  /** default the schema's feature_template */
  template?: { features: FeatureSpec[]; inputs: ModelInput[] };
  /** vocabulary fitting; default minCount 5 */
  fit?: Partial<FitOptions>;
  /** cap numeric features at mean +- this many standard deviations (see clipToSigmas); default off */
  clipSigmas?: number;
  train?: Omit<TrainOptions, 'validation' | 'validationFraction' | 'seed'>;
  /** one model per seed, merged into one network averaging their logits; default [1] */
  seeds?: number[];
  /** default all */
  positions?: PositionUse;
  /** the manifest's default objective, also what NDCG ranks by; default ctcvr */
  objective?: Objective;
  /** NDCG cut-off; default 10 */
  ndcgK?: number;
  grades?: RelevanceGrades;
  /** write model.int8.onnx, model.fp32.onnx and manifest.json here (never into model/artifacts) */
  outDir?: string;
  /** preloaded slates by split (skips reading those splits again) */
  slates?: Record<string, DatasetSlate[]>;
  log?: (line: string) => void;
}

export interface HeadMetrics {
  auc: number;
  logloss: number;
}

export interface ExportEvaluation {
  ctr: HeadMetrics;
  cvr: HeadMetrics;
  ctcvr_auc: number;
  ndcg: Interval;
}

export interface RankingBaselines {
  logged: Interval;
  random: Interval;
  popularity: Interval;
}

export interface DatasetEvaluation {
  splits: string[];
  slates: number;
  rows: number;
  k: number;
  int8: ExportEvaluation;
  fp32: ExportEvaluation;
  baselines: RankingBaselines;
  /** paired bootstrap CI of int8 - fp32 NDCG@k */
  int8_minus_fp32: Interval;
  /** paired bootstrap CI of int8 - logged order NDCG@k */
  int8_minus_logged: Interval;
}

export interface TrainedDatasetModel {
  manifest: Manifest;
  int8: Uint8Array;
  fp32: Uint8Array;
  model: RankerModel;
  results: TrainResult[];
  trainSlates: DatasetSlate[];
  validSlates: DatasetSlate[];
  evalSlates: DatasetSlate[];
  evaluation: DatasetEvaluation | null;
}

const DEFAULT_VALIDATION: ValidationPlan = { kind: 'holdout', fraction: 0.2, seed: 1, refit: true };

/** The configured reference model for schema-described datasets (see DATASET_TRAINING_DEFAULTS). */
export interface DatasetTrainingDefaults {
  validation: ValidationPlan;
  seeds: number;
  epochs: number;
  patience: number;
  batchSize: number;
  learningRate: number;
  hidden: readonly number[];
  embeddingDim: number;
  clipSigmas: number;
  positions: PositionUse;
  objective: Objective;
  k: number;
}

/**
 * What `train-dataset` trains when given no options (its CLI defaults), and what
 * `npm run eval -- --dataset <schema>` trains: one place, so the two cannot drift apart.
 */
export const DATASET_TRAINING_DEFAULTS: Readonly<DatasetTrainingDefaults> = Object.freeze<DatasetTrainingDefaults>({
  validation: DEFAULT_VALIDATION,
  seeds: 10,
  epochs: 60,
  patience: 5,
  batchSize: 256,
  learningRate: 2e-3,
  hidden: [8],
  embeddingDim: 4,
  clipSigmas: 4,
  positions: { mode: 'all' },
  objective: { kind: 'ctcvr' },
  k: 10,
});

/** A seeded split of slates into (rest, holdout), whole slates only. */
export function holdoutSlates<T>(slates: readonly T[], fraction: number, seed: number): { rest: T[]; holdout: T[] } {
  if (!(fraction > 0 && fraction < 1)) throw new Error(`holdout fraction must be in (0, 1), got ${fraction}`);
  const order = Int32Array.from({ length: slates.length }, (_, i) => i);
  new Rng(seed).shuffle(order);
  const count = Math.max(1, Math.round(slates.length * fraction));
  const held = new Set(order.subarray(0, count));
  return { rest: slates.filter((_, i) => !held.has(i)), holdout: slates.filter((_, i) => held.has(i)) };
}

/** Positions as the position tower should see them (a copy; the slates keep the logged ones). */
export function trainingPositions(set: TrainingSet, slates: readonly DatasetSlate[], use: PositionUse): void {
  if (use.mode === 'all') return;
  let row = 0;
  for (const slate of slates) {
    const keep = use.mode === 'randomized_only' && Boolean(slate.metadata[use.flag]);
    if (!keep) set.position.fill(1, row, row + slate.items.length);
    row += slate.items.length;
  }
}

/**
 * Caps every numeric and cross feature at mean +- sigmas * std of its fitted (pre-standardisation)
 * values, intersected with the template's own clip. Sparse features (e.g. a user history that 95%
 * of requests lack, defaulted) otherwise standardise to |z| of 10 or more on the rows that have
 * them; besides letting a few rows dominate a small model, that widens the per-tensor range int8
 * DynamicQuantizeLinear spreads its 256 levels over, for every row of the slate.
 */
export function clipToSigmas(features: FeatureSpec[], sigmas: number): FeatureSpec[] {
  return features.map((f) => {
    if (f.kind === 'categorical') return f;
    const { mean, std } = f.transform;
    let lo = mean - sigmas * std;
    let hi = mean + sigmas * std;
    if (f.transform.clip) {
      lo = Math.max(lo, f.transform.clip[0]);
      hi = Math.min(hi, f.transform.clip[1]);
    }
    if (!(lo < hi)) return f;
    return { ...f, transform: { ...f.transform, clip: [Number(lo.toPrecision(6)), Number(hi.toPrecision(6))] } };
  });
}

/** The fitted draft manifest of a template over training slates. */
export function fitDatasetManifest(
  schema: DatasetSchema,
  template: { features: FeatureSpec[]; inputs: ModelInput[] },
  trainSlates: readonly DatasetSlate[],
  options: { modelId: string; objective: Objective; fit?: Partial<FitOptions>; clipSigmas?: number },
): Manifest {
  let features = fitFeatures(template, trainSlates, options.fit);
  if (options.clipSigmas !== undefined && options.clipSigmas > 0) {
    // Second pass: standardise the clipped values (vocabularies are unchanged by clipping).
    features = fitFeatures({ features: clipToSigmas(features, options.clipSigmas), inputs: template.inputs }, trainSlates, options.fit);
  }
  return parseManifest({
    manifest_version: 1,
    model: { id: options.modelId, version: '0' },
    feature_set: { schema: schema.name },
    files: { model: 'model.int8.onnx', fp32: 'model.fp32.onnx' },
    features,
    inputs: template.inputs,
    outputs: { p_ctr: { name: 'p_ctr' }, p_cvr: { name: 'p_cvr' } },
    objective: options.objective,
  });
}

/** Served scores (the objective over p_ctr, p_cvr and the inline price) per slate. */
export function slateScores(slates: readonly DatasetSlate[], pCtr: Float32Array, pCvr: Float32Array, objective: Objective): Float64Array[] {
  const out: Float64Array[] = [];
  let row = 0;
  for (const slate of slates) {
    const n = slate.items.length;
    const prices = Float64Array.from(slate.items, (item) => {
      const p = item.inline?.price;
      return typeof p === 'number' ? p : Number.NaN;
    });
    out.push(objectiveScores(objective, pCtr.subarray(row, row + n), pCvr.subarray(row, row + n), prices));
    row += n;
  }
  return out;
}

/** NDCG@k per slate of ranking each slate by the given scores. */
export function slateNdcg(slates: readonly DatasetSlate[], scores: readonly ArrayLike<number>[], k: number, grades: RelevanceGrades = DEFAULT_GRADES): Float64Array {
  return ndcgPerSlate(
    slates.map((s, i) => ({ scores: scores[i]!, relevance: slateRelevance(s, grades) })),
    k,
  );
}

/** Smoothed click-through rate per item id over training slates: (clicks + m*ctr) / (shown + m). */
export function popularityPrior(trainSlates: readonly DatasetSlate[], m = 20): (itemId: string) => number {
  const shown = new Map<string, number>();
  const clicked = new Map<string, number>();
  let rows = 0;
  let clicks = 0;
  for (const s of trainSlates) {
    s.items.forEach((item, i) => {
      shown.set(item.id, (shown.get(item.id) ?? 0) + 1);
      clicked.set(item.id, (clicked.get(item.id) ?? 0) + s.clicks[i]!);
      rows++;
      clicks += s.clicks[i]!;
    });
  }
  const prior = rows === 0 ? 0 : clicks / rows;
  return (id) => ((clicked.get(id) ?? 0) + m * prior) / ((shown.get(id) ?? 0) + m);
}

/** NDCG@k per slate of the logged order, a random order (exact expectation) and popularity. */
export function baselineNdcg(
  evalSlates: readonly DatasetSlate[],
  trainSlates: readonly DatasetSlate[],
  k: number,
  grades: RelevanceGrades = DEFAULT_GRADES,
): { logged: Float64Array; random: Float64Array; popularity: Float64Array } {
  const pop = popularityPrior(trainSlates);
  return {
    logged: slateNdcg(evalSlates, evalSlates.map((s) => Float64Array.from(s.positions, (p) => -p)), k, grades),
    // every item tied = the expectation over uniformly random orders
    random: slateNdcg(evalSlates, evalSlates.map((s) => new Float64Array(s.items.length)), k, grades),
    popularity: slateNdcg(evalSlates, evalSlates.map((s) => Float64Array.from(s.items, (item) => pop(item.id))), k, grades),
  };
}

const round = (x: number, digits = 5) => Number(x.toFixed(digits));
const roundInterval = (i: Interval): Interval => ({ mean: round(i.mean), lo: round(i.lo), hi: round(i.hi), n: i.n, level: i.level });

/**
 * p_ctr and p_cvr with one onnxruntime run per slate, as the worker scores a request. It matters for
 * int8: DynamicQuantizeLinear picks its scale from the whole input tensor, so a row's int8 score
 * depends on the other rows of its batch, and only slate-sized batches give the served scores.
 */
export async function scorePerSlate(
  bytes: Uint8Array,
  set: TrainingSet,
  slates: readonly { items: readonly unknown[] }[],
): Promise<{ pCtr: Float32Array; pCvr: Float32Array }> {
  const sizes = slates.map((slate) => slate.items.length);
  const held = sizes.reduce((a, b) => a + b, 0);
  if (held !== set.click.length) throw new Error(`the slates hold ${held} rows, the set ${set.click.length}`);
  return scoreTrainingRows(bytes, set, sizes);
}

async function evaluateExport(
  bytes: Uint8Array,
  set: TrainingSet,
  slates: readonly DatasetSlate[],
  objective: Objective,
  k: number,
  grades: RelevanceGrades,
): Promise<{ metrics: ExportEvaluation; perSlate: Float64Array }> {
  const { pCtr, pCvr } = await scorePerSlate(bytes, set, slates);
  const perSlate = slateNdcg(slates, slateScores(slates, pCtr, pCvr, objective), k, grades);
  return {
    perSlate,
    metrics: {
      ctr: { auc: round(auc(pCtr, set.click)), logloss: round(logloss(pCtr, set.click)) },
      cvr: { auc: round(auc(pCvr, set.purchase, set.click)), logloss: round(logloss(pCvr, set.purchase, set.click)) },
      ctcvr_auc: round(auc(Float32Array.from(pCtr, (c, i) => c * pCvr[i]!), both(set.click, set.purchase))),
      ndcg: roundInterval(bootstrapMeanCI(perSlate)),
    },
  };
}

/** Measures the fp32 and int8 exports and the baselines on pooled evaluation slates. */
export async function evaluateDataset(
  manifest: Manifest,
  exports: { int8: Uint8Array; fp32: Uint8Array },
  evalSlates: readonly DatasetSlate[],
  trainSlates: readonly DatasetSlate[],
  options: { splits: string[]; k?: number; grades?: RelevanceGrades },
): Promise<DatasetEvaluation> {
  const k = options.k ?? 10;
  const grades = options.grades ?? DEFAULT_GRADES;
  const set = assembleTrainingSet(manifest, evalSlates);
  const int8 = await evaluateExport(exports.int8, set, evalSlates, manifest.objective, k, grades);
  const fp32 = await evaluateExport(exports.fp32, set, evalSlates, manifest.objective, k, grades);
  const base = baselineNdcg(evalSlates, trainSlates, k, grades);
  return {
    splits: options.splits,
    slates: evalSlates.length,
    rows: set.click.length,
    k,
    int8: int8.metrics,
    fp32: fp32.metrics,
    baselines: {
      logged: roundInterval(bootstrapMeanCI(base.logged)),
      random: roundInterval(bootstrapMeanCI(base.random)),
      popularity: roundInterval(bootstrapMeanCI(base.popularity)),
    },
    int8_minus_fp32: roundInterval(pairedBootstrapCI(int8.perSlate, fp32.perSlate)),
    int8_minus_logged: roundInterval(pairedBootstrapCI(int8.perSlate, base.logged)),
  };
}

/** Trains one model per seed (with early stopping when validation slates are given). */
export function trainSeeds(
  manifest: Manifest,
  trainSlates: readonly DatasetSlate[],
  validSlates: readonly DatasetSlate[] | null,
  options: { seeds: number[]; train: Omit<TrainOptions, 'validation' | 'validationFraction' | 'seed'>; positions: PositionUse; epochsPerSeed?: number[] },
): TrainResult[] {
  const trainSet = assembleTrainingSet(manifest, trainSlates);
  trainingPositions(trainSet, trainSlates, options.positions);
  let validSet: TrainingSet | undefined;
  if (validSlates) {
    validSet = assembleTrainingSet(manifest, validSlates);
    trainingPositions(validSet, validSlates, options.positions);
  }
  return options.seeds.map((seed, i) =>
    train(trainSet, {
      ...options.train,
      seed,
      ...(options.epochsPerSeed ? { epochs: options.epochsPerSeed[i]! } : {}),
      ...(validSet ? { validation: validSet } : { validationFraction: 0 }),
    }),
  );
}

/** Served-model NDCG@k per slate with the plain-JS forward pass (fast; for model selection). */
export function predictNdcg(manifest: Manifest, model: RankerModel, slates: readonly DatasetSlate[], k = 10, grades: RelevanceGrades = DEFAULT_GRADES): Float64Array {
  const set = assembleTrainingSet(manifest, slates);
  const { pCtr, pCvr } = predict(model, set.cat, set.num);
  return slateNdcg(slates, slateScores(slates, pCtr, pCvr, manifest.objective), k, grades);
}

export interface FitOnSlatesOptions {
  template: { features: FeatureSpec[]; inputs: ModelInput[] };
  modelId: string;
  objective: Objective;
  validation: ValidationPlan;
  /** the validation slates of a { kind: 'split' } plan */
  validSlates?: DatasetSlate[];
  fit?: Partial<FitOptions>;
  /** cap numeric features at mean +- this many standard deviations (see clipToSigmas); 0 = off */
  clipSigmas?: number;
  train?: Omit<TrainOptions, 'validation' | 'validationFraction' | 'seed'>;
  seeds: number[];
  positions: PositionUse;
  log?: (line: string) => void;
}

export interface FittedOnSlates {
  draft: Manifest;
  /** the seeds' networks merged into one */
  model: RankerModel;
  results: TrainResult[];
  bestEpochs: number[];
  /** each seed's validation metrics (before any refit) */
  validation: (TrainResult['validation'])[];
  fitSlates: DatasetSlate[];
  validSlates: DatasetSlate[];
  refit: boolean;
}

/**
 * The training procedure on in-memory slates (what trainDataset runs after reading the splits, and
 * what cross-validation repeats per fold): fit the template, train every seed with early stopping
 * on the validation slates, refit on all slates for each seed's best epoch count (holdout plans),
 * merge the seeds into one network.
 */
export function fitOnSlates(schema: DatasetSchema, slates: readonly DatasetSlate[], options: FitOnSlatesOptions): FittedOnSlates {
  const log = options.log ?? (() => {});
  const plan = options.validation;
  let fitSlates = [...slates];
  let validSlates: DatasetSlate[] = [];
  if (plan.kind === 'holdout') {
    const { rest, holdout } = holdoutSlates(slates, plan.fraction, plan.seed ?? 1);
    fitSlates = rest;
    validSlates = holdout;
  } else if (plan.kind === 'split') {
    if (!options.validSlates) throw new Error('a split validation plan needs its validSlates');
    validSlates = options.validSlates;
  }
  log(`${schema.name}: ${slates.length} training slates (${fitSlates.length} to fit, ${validSlates.length} validation)`);
  // Vocabularies and standardisation come from the slates the final weights are fitted on
  // (label-free statistics, so fitting them on the holdout too does not leak labels).
  const refit = plan.kind === 'holdout' && plan.refit !== false;
  const draft = fitDatasetManifest(schema, options.template, refit ? slates : fitSlates, {
    modelId: options.modelId,
    objective: options.objective,
    ...(options.fit ? { fit: options.fit } : {}),
    ...(options.clipSigmas !== undefined ? { clipSigmas: options.clipSigmas } : {}),
  });
  // Seeds are merged into one network (model/train/ensemble.ts), which needs a shape without
  // pairwise embedding interactions; ask for none unless the caller chose a shape option itself.
  const shape = { ...(options.seeds.length > 1 ? { interactions: 'none' } : {}), ...options.train?.shape } as TrainOptions['shape'];
  const trainOptions = { ...options.train, shape, log: options.train?.log ?? null };
  let results = trainSeeds(draft, fitSlates, validSlates.length > 0 ? validSlates : null, { seeds: options.seeds, train: trainOptions, positions: options.positions });
  const bestEpochs = results.map((r) => r.bestEpoch);
  const validation = results.map((r) => r.validation);
  if (refit) {
    log(`best epochs on the holdout: ${bestEpochs.join(', ')}; refitting on all ${slates.length} slates`);
    results = trainSeeds(draft, slates, null, { seeds: options.seeds, train: trainOptions, positions: options.positions, epochsPerSeed: bestEpochs.map((e) => Math.max(1, e)) });
  }
  return { draft, model: mergeEnsemble(results.map((r) => r.model)), results, bestEpochs, validation, fitSlates, validSlates, refit };
}

export async function trainDataset(options: TrainDatasetOptions): Promise<TrainedDatasetModel> {
  const { schema } = options;
  const log = options.log ?? (() => {});
  const modelId = options.modelId ?? `${schema.name}-mtl`;
  const trainSplit = options.trainSplit ?? 'train';
  const plan = options.validation ?? DEFAULT_VALIDATION;
  const evalSplits = options.evalSplits ?? [];
  const seeds = options.seeds ?? [1];
  const positions = options.positions ?? { mode: 'all' };
  const objective = options.objective ?? { kind: 'ctcvr' };
  const k = options.ndcgK ?? 10;
  const grades = options.grades ?? DEFAULT_GRADES;
  const template = options.template ?? featureTemplate(schema);
  const read = async (splits: string[]): Promise<DatasetSlate[]> => {
    const out: DatasetSlate[] = [];
    for (const split of splits) out.push(...(options.slates?.[split] ?? (await collectSlates(schema, split, options.dataRoot !== undefined ? { dataRoot: options.dataRoot } : {}))));
    return out;
  };
  if (plan.kind === 'split' && evalSplits.includes(plan.split)) {
    throw new Error(`validation split ${plan.split} is also an evaluation split: early stopping would select on the reported data`);
  }
  if (options.outDir !== undefined) {
    const rel = relative(resolve(REPO_ROOT, 'model', 'artifacts'), resolve(options.outDir));
    if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) {
      throw new Error(`refusing to write into model/artifacts (${options.outDir}): the worker bundles everything there; pick another directory`);
    }
  }

  const allTrain = await read([trainSplit]);
  if (allTrain.length === 0) throw new Error(`split ${trainSplit} has no slates`);
  const explicitValid = plan.kind === 'split' ? await read([plan.split]) : undefined;
  const evalSlates = await read(evalSplits);

  const fitted = fitOnSlates(schema, allTrain, {
    template,
    modelId,
    objective,
    validation: plan,
    ...(explicitValid ? { validSlates: explicitValid } : {}),
    ...(options.fit ? { fit: options.fit } : {}),
    ...(options.clipSigmas !== undefined ? { clipSigmas: options.clipSigmas } : {}),
    ...(options.train ? { train: options.train } : {}),
    seeds,
    positions,
    log,
  });
  const { draft, model, results, bestEpochs, validation, validSlates, refit } = fitted;
  log(`${schema.name}: ${evalSlates.length} eval slates (${evalSplits.join('+') || 'none'})`);
  const fp32 = exportFp32(model);
  const int8 = exportInt8(model);

  let evaluation: DatasetEvaluation | null = null;
  if (evalSlates.length > 0) {
    evaluation = await evaluateDataset(draft, { int8, fp32 }, evalSlates, allTrain, { splits: evalSplits, k, grades });
    log(
      `NDCG@${k} on ${evalSplits.join('+')} (${evalSlates.length} slates): int8 ${evaluation.int8.ndcg.mean} [${evaluation.int8.ndcg.lo}, ${evaluation.int8.ndcg.hi}], fp32 ${evaluation.fp32.ndcg.mean}, logged ${evaluation.baselines.logged.mean}, random ${evaluation.baselines.random.mean}, popularity ${evaluation.baselines.popularity.mean}`,
    );
  }

  const digest = createHash('sha256').update(int8).digest('hex').slice(0, 12);
  const manifest = parseManifest({
    ...draft,
    model: {
      id: modelId,
      version: digest,
      description: `ESMM multi-task CTR/CVR network trained on ${schema.name}${seeds.length > 1 ? ` (${seeds.length} seeds merged, logits averaged)` : ''}; position tower dropped at export`,
      quantization: INT8_QUANTIZATION,
    },
    metrics: {
      ...(validSlates.length > 0 ? { validation: { slates: validSlates.length, per_seed: validation } } : {}),
      ...(evaluation ? { evaluation } : {}),
    },
    training: {
      dataset: schema.name,
      ...(schema.provenance ? { provenance: schema.provenance } : {}),
      train_split: trainSplit,
      validation: plan,
      positions,
      seeds,
      best_epochs: bestEpochs,
      refit,
      rows: assembleRows(allTrain),
      shape: model.shape,
      options: { ...options.train, log: undefined, onProgress: undefined },
    },
  });

  if (options.outDir !== undefined) {
    await mkdir(options.outDir, { recursive: true });
    await writeFile(join(options.outDir, manifest.files.model), int8);
    await writeFile(join(options.outDir, manifest.files.fp32!), fp32);
    await writeFile(join(options.outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  }
  return { manifest, int8, fp32, model, results, trainSlates: allTrain, validSlates, evalSlates, evaluation };
}

function assembleRows(slates: readonly DatasetSlate[]): number {
  return slates.reduce((n, s) => n + s.items.length, 0);
}
