// The reference trainer: a multi-task (CTR, CVR) network trained ESMM-style with a training-only
// position tower, on minibatches with Adam, seeded and reproducible, with early stopping.
//
// Why hand-written instead of TensorFlow.js: measured here, tfjs's wasm backend reaches ~19k rows/s
// and its cpu backend ~2.7k rows/s on this kind of model (both only with a custom embedding
// gradient), and tfjs-node cannot install offline. This trainer does ~70k rows/s on one core with
// its WebAssembly SIMD matmul (simd-kernels.ts; ~13k with the plain-JS register-blocked kernels in
// kernels.ts), has no native dependency, and is deterministic.
import { Adam, DEFAULT_ADAM } from './adam.ts';
import { numericDimOf, rowCount, splitTail, validateTrainingSet } from './dataset.ts';
import { evaluate, type Evaluation } from './evaluate.ts';
import { cloneModel, copyParameters, createModel, denseParameters } from './model.ts';
import type { KernelBackend } from './kernels.ts';
import { Gradients, lossAndGradients, Workspace } from './network.ts';
import { Rng } from './random.ts';
import { DEFAULT_SHAPE, type ModelShape, type RankerModel, type TrainingSet } from './types.ts';

export interface TrainOptions {
  shape?: Partial<ModelShape>;
  /** Maximum number of passes over the training rows. Default 10. */
  epochs?: number;
  /** Default 1024. */
  batchSize?: number;
  /** Adam step size. Default 2e-3. */
  learningRate?: number;
  /**
   * Adam step size of the position tower. Default 10x learningRate: its parameters are logits that
   * must move by O(1) (e.g. -1.4 at position 10) and Adam moves a parameter by about one step size
   * per batch, so at the base rate a few hundred batches would leave the tower under-fit.
   */
  positionLearningRate?: number;
  /**
   * Where the position tower starts: 'observed' (default) from each position's click log-odds
   * relative to position 1, 'zero' from no position effect. Under a logging policy that put better
   * items higher the observed rates overstate the position effect.
   */
  positionInit?: 'observed' | 'zero';
  /** L2 on the embeddings each row looks up (see lossAndGradients). Default 1e-5. */
  l2Embedding?: number;
  /** Seeds the initial weights and the per-epoch shuffles. Default 1. */
  seed?: number;
  /** Validation rows; without them, the last validationFraction of the data is held out. */
  validation?: TrainingSet;
  /** Default 0.1; 0 trains on everything with no early stopping (the last weights are kept). */
  validationFraction?: number;
  /** Epochs without a lower validation loss before stopping. Default 2. */
  patience?: number;
  /** Matrix kernels: 'simd' (WebAssembly SIMD, default) or 'js' (the plain-JS reference, ~5x slower). */
  kernels?: KernelBackend;
  /** Called every progressEvery batches and after each epoch's last batch. */
  onProgress?: (progress: TrainProgress) => void;
  /** Default 50. */
  progressEvery?: number;
  /** Receives one line per epoch; default console.log, null for silence. */
  log?: ((line: string) => void) | null;
}

export interface TrainProgress {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  rowsPerSecond: number;
  /** running mean ESMM loss of this epoch so far */
  loss: number;
}

export interface EpochStats {
  epoch: number;
  trainRows: number;
  /** training time of the epoch (validation excluded) */
  seconds: number;
  rowsPerSecond: number;
  /** mean ESMM loss over the epoch's batches (weights changing as it goes) */
  trainLoss: number;
  validation: Evaluation | null;
  /** true when this epoch's weights are the best so far (and so kept) */
  best: boolean;
}

export interface TrainResult {
  /** The best weights seen (lowest validation loss), position tower included. */
  model: RankerModel;
  history: EpochStats[];
  bestEpoch: number;
  /** Validation metrics of the returned weights, null without validation rows. */
  validation: Evaluation | null;
}

function logit(p: number): number {
  const q = Math.min(1 - 1e-6, Math.max(1e-6, p));
  return Math.log(q / (1 - q));
}

/** Pseudo-impressions at the overall rate, to smooth per-position rates in thin buckets. */
const POSITION_PRIOR_ROWS = 100;

/**
 * Starts from the observed rates instead of spending the first batches learning them: the CTR
 * logit's bias at the CTR of position 1, each position bucket at its log-odds relative to position
 * 1, and the CVR bias at purchases per click. Under a logging policy that put better items higher
 * these per-position rates also carry relevance; training then corrects them, starting nearby.
 */
function initialiseRates(model: RankerModel, set: TrainingSet, positionInit: 'observed' | 'zero'): void {
  const buckets = model.position.maxPosition;
  const shown = new Float64Array(buckets);
  const clicked = new Float64Array(buckets);
  let clicks = 0;
  let purchases = 0;
  for (let i = 0; i < set.click.length; i++) {
    const p = set.position[i]!;
    const bucket = (p < 1 ? 1 : p > buckets ? buckets : p) - 1;
    shown[bucket] = shown[bucket]! + 1;
    clicked[bucket] = clicked[bucket]! + set.click[i]!;
    clicks += set.click[i]!;
    purchases += set.purchase[i]!;
  }
  const overall = clicks / Math.max(1, set.click.length);
  const bucketLogit = (b: number) => logit((clicked[b]! + POSITION_PRIOR_ROWS * overall) / (shown[b]! + POSITION_PRIOR_ROWS));
  const top = bucketLogit(0);
  if (positionInit === 'observed') for (let b = 1; b < buckets; b++) model.position.bias[b] = bucketLogit(b) - top;
  model.ctrHead[model.ctrHead.length - 1]!.bias[0] = top;
  model.cvrHead[model.cvrHead.length - 1]!.bias[0] = logit(clicks === 0 ? 0.5 : purchases / clicks);
}

function formatEpoch(stats: EpochStats, epochs: number): string {
  const v = stats.validation;
  const parts = [
    `epoch ${stats.epoch}/${epochs}`,
    `${(stats.rowsPerSecond / 1000).toFixed(1)}k rows/s`,
    `train loss ${stats.trainLoss.toFixed(5)}`,
  ];
  if (v) {
    parts.push(
      `val loss ${v.loss.toFixed(5)}`,
      `ctr auc ${v.ctrAuc.toFixed(4)}`,
      `cvr auc ${v.cvrAuc.toFixed(4)}`,
      `ctcvr auc ${v.ctcvrAuc.toFixed(4)}`,
    );
  }
  if (stats.best && v) parts.push('(best)');
  return parts.join('  ');
}

export function train(data: TrainingSet, options: TrainOptions = {}): TrainResult {
  const shape: ModelShape = { ...DEFAULT_SHAPE, ...options.shape };
  const epochs = options.epochs ?? 10;
  const batchSize = options.batchSize ?? 1024;
  const l2Embedding = options.l2Embedding ?? 1e-5;
  const seed = options.seed ?? 1;
  const patience = options.patience ?? 2;
  const progressEvery = options.progressEvery ?? 50;
  const log = options.log === undefined ? console.log : options.log;

  validateTrainingSet(data, 'training set');
  const { train: trainSet, validation } = options.validation
    ? { train: data, validation: options.validation }
    : (options.validationFraction ?? 0.1) > 0
      ? splitTail(data, options.validationFraction ?? 0.1)
      : { train: data, validation: null };
  if (options.validation) validateTrainingSet(options.validation, 'validation set');
  const rows = rowCount(trainSet);
  if (rows === 0) throw new Error('no training rows');
  const numericDim = numericDimOf(trainSet);
  if (validation && rowCount(validation) > 0 && numericDimOf(validation) !== numericDim) {
    throw new Error(`validation set has ${numericDimOf(validation)} numeric features, training set ${numericDim}`);
  }
  const hasValidation = validation !== null && rowCount(validation) > 0;

  const model = createModel(shape, trainSet.vocabSizes, numericDim, seed);
  initialiseRates(model, trainSet, options.positionInit ?? 'observed');
  const capacity = Math.min(batchSize, rows);
  const ws = new Workspace(model, capacity, true, options.kernels ?? 'simd');
  const grads = new Gradients(model, capacity);
  const dense = denseParameters(model);
  const learningRate = options.learningRate ?? DEFAULT_ADAM.learningRate;
  const positionScale = (options.positionLearningRate ?? 10 * learningRate) / learningRate;
  // denseParameters() ends with the position tower's bias and cross tables.
  const rateScale = dense.map((_, i) => (i >= dense.length - 2 ? positionScale : 1));
  const adam = new Adam({ ...DEFAULT_ADAM, learningRate }, dense, model.embedding.table, rateScale);
  const shuffleRng = new Rng((seed ^ 0x9e3779b9) >>> 0);
  const order = new Int32Array(rows);
  for (let i = 0; i < rows; i++) order[i] = i;

  const best = cloneModel(model);
  let bestLoss = Infinity;
  let bestEpoch = 0;
  let bestEvaluation: Evaluation | null = null;
  let epochsWithoutImprovement = 0;
  const history: EpochStats[] = [];
  const batches = Math.ceil(rows / capacity);

  for (let epoch = 1; epoch <= epochs; epoch++) {
    shuffleRng.shuffle(order);
    const started = performance.now();
    let lossSum = 0;
    for (let b = 0; b < batches; b++) {
      const start = b * capacity;
      const count = Math.min(capacity, rows - start);
      lossSum += lossAndGradients(model, ws, grads, trainSet, order, start, count, l2Embedding);
      adam.update(dense, grads.dense, model.embedding.table, grads.embedding, model.embedding.dim, grads.touchedRows, grads.touchedCount);
      if (options.onProgress && ((b + 1) % progressEvery === 0 || b === batches - 1)) {
        const seen = start + count;
        options.onProgress({
          epoch,
          epochs,
          batch: b + 1,
          batches,
          rowsPerSecond: seen / ((performance.now() - started) / 1000),
          loss: lossSum / seen,
        });
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const trainLoss = lossSum / rows;
    if (!Number.isFinite(trainLoss)) {
      throw new Error(`training diverged in epoch ${epoch} (loss ${trainLoss}); lower the learning rate`);
    }
    const evaluation = hasValidation ? evaluate(model, validation!, ws) : null;
    const improved = evaluation === null || evaluation.loss < bestLoss;
    if (improved) {
      bestLoss = evaluation?.loss ?? trainLoss;
      bestEpoch = epoch;
      bestEvaluation = evaluation;
      epochsWithoutImprovement = 0;
      if (hasValidation) copyParameters(model, best);
    } else {
      epochsWithoutImprovement++;
    }
    const stats: EpochStats = { epoch, trainRows: rows, seconds, rowsPerSecond: rows / seconds, trainLoss, validation: evaluation, best: improved };
    history.push(stats);
    log?.(formatEpoch(stats, epochs));
    if (hasValidation && epochsWithoutImprovement >= patience) {
      log?.(`early stop: no lower validation loss for ${patience} epochs; keeping epoch ${bestEpoch}`);
      break;
    }
  }
  if (hasValidation) copyParameters(best, model);
  return { model, history, bestEpoch, validation: bestEvaluation };
}
