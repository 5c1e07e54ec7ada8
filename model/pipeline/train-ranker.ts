// The reference training run over an impression log: point-in-time features, fitted manifest,
// ESMM multi-task network, fp32 and int8 ONNX export, and validation metrics of both exports as
// onnxruntime scores them.
import { createHash } from 'node:crypto';
import { commerceV2Features, type CommerceFeatureOptions } from '../features/commerce-v2.ts';
import { DAY_MS, ITEM_WINDOW_DAYS, MIN_HISTORY_DAYS, USER_WINDOW_DAYS } from '../features/compute.ts';
import { fitFeatures } from '../features/fit.ts';
import { parseManifest, type Manifest } from '../features/manifest.ts';
import { FEATURE_SET_SCHEMA } from '../features/records.ts';
import { pointInTimeSlates } from '../dataset/point-in-time.ts';
import type { LabelledSlate } from '../dataset/slates.ts';
import { assembleTrainingSet } from '../dataset/training-set.ts';
import { exportFp32 } from '../onnx/export.ts';
import { exportInt8, INT8_QUANTIZATION } from '../onnx/quantize.ts';
import { scoreTrainingRows } from '../onnx/score-node.ts';
import { auc, both, logloss } from '../train/metrics.ts';
import { distillationRecord, trainDistilled, type DistillOptions } from '../train/distill.ts';
import type { TrainOptions, TrainResult } from '../train/trainer.ts';
import type { TrainingSet } from '../train/types.ts';
import type { LoadedWorldLog } from './world-log.ts';

export interface TrainRankerOptions {
  modelId: string;
  /** days before the test days held out for validation (early stopping) */
  validationDays: number;
  /**
   * days at the very end of the log held out for evaluation only (never seen by training or early
   * stopping); the manifest's metrics are measured on them. Default 0 (metrics on validation).
   */
  testDays?: number;
  features: CommerceFeatureOptions;
  train: Omit<TrainOptions, 'validation'>;
  /** train teachers first and the served network on their mean predictions (absent: logged labels only) */
  distill?: DistillOptions;
  /** recorded in the manifest so the run can be repeated (e.g. the world's settings) */
  provenance: Record<string, unknown>;
  log: (line: string) => void;
}

/**
 * The reference configuration (chosen on the 1m world's validation days, see README "Model
 * quality"): hashed item-id embeddings at twice the catalog size (a user-id embedding memorised
 * more than it generalised and is left out: user tastes come from the history features), pairwise
 * embedding dot products, and a position tower that starts from no position effect (the logged
 * per-position rates also carry the logging policy's popularity order). One shared layer of 64:
 * against 128-64 it matched CTR AUC and expected revenue on the 1m world at 1M impressions (gap
 * closed 0.474 / 0.690 vs 0.443 / 0.695) at about half the serving time (README, "Performance").
 */
export const REFERENCE_FEATURES = (items: number): CommerceFeatureOptions => ({
  itemIdBuckets: Math.min(1 << 16, 2 ** Math.ceil(Math.log2(Math.max(16, 2 * items)))),
  userIdBuckets: 0,
});
export const REFERENCE_TRAINING = { shape: { interactions: 'dot' as const, hidden: [64] }, positionInit: 'zero' as const };
/**
 * Five teachers, the served network trained on their mean predictions alone (see distill.ts). On
 * the 1m world at 1M impressions, trainer seeds 1-3, gap closed AUC / revenue 0.618-0.620 /
 * 0.793-0.796 against 0.594 / 0.784 (mean) trained on the labels, and the seeds agree to 0.003
 * instead of 0.012; half the labels mixed in (hardLabelWeight 0.5) lost the gain (0.594 / 0.783).
 * The teachers stop after one epoch without improvement: their best epoch is the first or second.
 */
export const REFERENCE_DISTILL: DistillOptions = { teachers: 5, hardLabelWeight: 0, teacherPatience: 1 };

export interface HeadMetrics {
  auc: number;
  logloss: number;
}

export interface ExportMetrics {
  ctr: HeadMetrics;
  cvr: HeadMetrics;
  ctcvr_auc: number;
}

export interface TrainedRanker {
  manifest: Manifest;
  int8: Uint8Array;
  fp32: Uint8Array;
  /** the served network's training */
  result: TrainResult;
  /** the teachers' trainings (empty without distillation) */
  teachers: TrainResult[];
  trainSet: TrainingSet;
  validSet: TrainingSet;
  trainSlates: LabelledSlate[];
  validSlates: LabelledSlate[];
  /** the test days' slates and rows (empty without testDays) */
  testSlates: LabelledSlate[];
  testSet: TrainingSet;
  metrics: { int8: ExportMetrics; fp32: ExportMetrics };
}

/** Metrics of an exported model, scored one slate per run as the worker serves it. */
export async function exportMetrics(model: Uint8Array, set: TrainingSet, slates: readonly LabelledSlate[]): Promise<ExportMetrics> {
  const { pCtr, pCvr } = await scoreTrainingRows(model, set, slates.map((s) => s.items.length));
  const ctcvr = pCtr.map((c, i) => c * pCvr[i]!);
  return {
    ctr: { auc: auc(pCtr, set.click), logloss: logloss(pCtr, set.click) },
    cvr: { auc: auc(pCvr, set.purchase, set.click), logloss: logloss(pCvr, set.purchase, set.click) },
    ctcvr_auc: auc(ctcvr, both(set.click, set.purchase)),
  };
}

const round = (x: number, digits = 5) => Number(x.toFixed(digits));
const roundMetrics = (m: ExportMetrics): ExportMetrics => ({
  ctr: { auc: round(m.ctr.auc), logloss: round(m.ctr.logloss) },
  cvr: { auc: round(m.cvr.auc), logloss: round(m.cvr.logloss) },
  ctcvr_auc: round(m.ctcvr_auc),
});

export async function trainRanker(world: LoadedWorldLog, options: TrainRankerOptions): Promise<TrainedRanker> {
  const { log } = world;
  if (log.length === 0) throw new Error('the impression log is empty');
  const originTs = Math.floor(log[0]!.ts / DAY_MS) * DAY_MS;
  const endTs = (Math.floor(log[log.length - 1]!.ts / DAY_MS) + 1) * DAY_MS;
  const testDays = options.testDays ?? 0;
  const trainFrom = originTs + MIN_HISTORY_DAYS * DAY_MS;
  const testFrom = endTs - testDays * DAY_MS;
  const validFrom = testFrom - options.validationDays * DAY_MS;
  if (validFrom <= trainFrom) {
    throw new Error(
      `the log spans ${(endTs - originTs) / DAY_MS} days: too short for ${MIN_HISTORY_DAYS} days of history plus ${options.validationDays} validation and ${testDays} test days`,
    );
  }
  const range = { originTs, windowDays: ITEM_WINDOW_DAYS, userWindowDays: USER_WINDOW_DAYS };
  const day = (ts: number) => (ts - originTs) / DAY_MS;
  const trainSlates = [...pointInTimeSlates(log, world, { ...range, fromTs: trainFrom, toTs: validFrom })];
  const validSlates = [...pointInTimeSlates(log, world, { ...range, fromTs: validFrom, toTs: testFrom })];
  const testSlates = testDays > 0 ? [...pointInTimeSlates(log, world, { ...range, fromTs: testFrom, toTs: endTs })] : [];
  options.log(
    `slates: ${trainSlates.length} train (days ${MIN_HISTORY_DAYS}-${day(validFrom)}), ${validSlates.length} validation (days ${day(validFrom)}-${day(testFrom)}), ${testSlates.length} test (days ${day(testFrom)}-${day(endTs)}); item and user features from up to ${ITEM_WINDOW_DAYS} and ${USER_WINDOW_DAYS} days before each day`,
  );

  const template = commerceV2Features(options.features);
  const features = fitFeatures(template, trainSlates);
  const draft = parseManifest({
    manifest_version: 1,
    model: { id: options.modelId, version: '0' },
    feature_set: { schema: FEATURE_SET_SCHEMA },
    files: { model: 'model.int8.onnx', fp32: 'model.fp32.onnx' },
    features,
    inputs: template.inputs,
    outputs: { p_ctr: { name: 'p_ctr' }, p_cvr: { name: 'p_cvr' } },
    objective: { kind: 'expected_revenue', price_exponent: 1 },
  });
  const trainSet = assembleTrainingSet(draft, trainSlates);
  const validSet = assembleTrainingSet(draft, validSlates);
  const testSet = assembleTrainingSet(draft, testSlates);
  options.log(`rows: ${trainSet.click.length} train, ${validSet.click.length} validation; ${trainSet.vocabSizes.length} categorical fields, ${trainSet.num.length / trainSet.click.length} numeric`);

  const started = performance.now();
  const distilled = trainDistilled(trainSet, { ...options.train, validation: validSet }, options.distill);
  const { student: result, teachers } = distilled;
  const seconds = (performance.now() - started) / 1000;
  const epochs = [result, ...teachers].flatMap((r) => r.history);
  const rowsTrained = epochs.reduce((n, e) => n + e.trainRows, 0);
  // Timings go to the log, not the manifest: the artifact stays byte-reproducible.
  const teacherText = teachers.length > 0 ? ` (${teachers.length} teachers: best epochs ${teachers.map((t) => t.bestEpoch).join(', ')}; then the served network)` : '';
  options.log(`trained ${epochs.length} epochs${teacherText} in ${seconds.toFixed(1)} s (${Math.round(rowsTrained / seconds)} rows/s incl. validation passes); best epoch ${result.bestEpoch}`);

  const fp32 = exportFp32(result.model);
  const int8 = exportInt8(result.model);
  const heldOut = testDays > 0 ? testSet : validSet;
  const heldOutSlates = testDays > 0 ? testSlates : validSlates;
  const metrics = { fp32: roundMetrics(await exportMetrics(fp32, heldOut, heldOutSlates)), int8: roundMetrics(await exportMetrics(int8, heldOut, heldOutSlates)) };
  const digest = createHash('sha256').update(int8).digest('hex').slice(0, 12);
  const manifest = parseManifest({
    ...draft,
    model: {
      id: options.modelId,
      version: digest,
      description: 'ESMM multi-task CTR/CVR network (shared bottom over embeddings and numeric features; position tower dropped at export), int8 dynamic quantization',
      quantization: INT8_QUANTIZATION,
    },
    metrics: { [testDays > 0 ? 'test' : 'validation']: { rows: heldOut.click.length, slates: testDays > 0 ? testSlates.length : validSlates.length, ...metrics } },
    training: {
      ...options.provenance,
      item_window_days: ITEM_WINDOW_DAYS,
      user_window_days: USER_WINDOW_DAYS,
      min_history_days: MIN_HISTORY_DAYS,
      validation_days: options.validationDays,
      test_days: testDays,
      rows: trainSet.click.length,
      epochs_run: result.history.length,
      best_epoch: result.bestEpoch,
      ...distillationRecord(options.distill, distilled),
      shape: result.model.shape,
      options: { ...options.train, log: undefined, onProgress: undefined },
    },
  });
  return { manifest, int8, fp32, result, teachers, trainSet, validSet, trainSlates, validSlates, testSlates, testSet, metrics };
}
