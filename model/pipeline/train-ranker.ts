// The reference training run over an impression log: point-in-time features, fitted manifest,
// ESMM multi-task network, fp32 and int8 ONNX export, and validation metrics of both exports as
// onnxruntime scores them.
import { createHash } from 'node:crypto';
import { commerceV1Features, type CommerceFeatureOptions } from '../features/commerce-v1.ts';
import { DAY_MS, FEATURE_WINDOW_DAYS } from '../features/compute.ts';
import { fitFeatures } from '../features/fit.ts';
import { parseManifest, type Manifest } from '../features/manifest.ts';
import { FEATURE_SET_SCHEMA } from '../features/records.ts';
import { pointInTimeSlates } from '../dataset/point-in-time.ts';
import type { LabelledSlate } from '../dataset/slates.ts';
import { assembleTrainingSet } from '../dataset/training-set.ts';
import { exportFp32 } from '../onnx/export.ts';
import { exportInt8 } from '../onnx/quantize.ts';
import { scoreTrainingRows } from '../onnx/score-node.ts';
import { auc, both, logloss } from '../train/metrics.ts';
import { train, type TrainOptions, type TrainResult } from '../train/trainer.ts';
import type { TrainingSet } from '../train/types.ts';
import type { LoadedWorldLog } from './world-log.ts';

export interface TrainRankerOptions {
  modelId: string;
  /** days at the end of the log held out for validation (early stopping and reported metrics) */
  validationDays: number;
  features: CommerceFeatureOptions;
  train: Omit<TrainOptions, 'validation'>;
  /** recorded in the manifest so the run can be repeated (e.g. the world's settings) */
  provenance: Record<string, unknown>;
  log: (line: string) => void;
}

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
  result: TrainResult;
  trainSet: TrainingSet;
  validSet: TrainingSet;
  trainSlates: LabelledSlate[];
  validSlates: LabelledSlate[];
  metrics: { int8: ExportMetrics; fp32: ExportMetrics };
}

export async function exportMetrics(model: Uint8Array, set: TrainingSet): Promise<ExportMetrics> {
  const { pCtr, pCvr } = await scoreTrainingRows(model, set);
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
  const trainFrom = originTs + FEATURE_WINDOW_DAYS * DAY_MS;
  const validFrom = endTs - options.validationDays * DAY_MS;
  if (validFrom <= trainFrom) {
    throw new Error(`the log spans ${(endTs - originTs) / DAY_MS} days: too short for a ${FEATURE_WINDOW_DAYS}-day feature window plus ${options.validationDays} validation days`);
  }
  const range = { originTs, windowDays: FEATURE_WINDOW_DAYS };
  const trainSlates = [...pointInTimeSlates(log, world, { ...range, fromTs: trainFrom, toTs: validFrom })];
  const validSlates = [...pointInTimeSlates(log, world, { ...range, fromTs: validFrom, toTs: endTs })];
  options.log(`slates: ${trainSlates.length} train (days ${FEATURE_WINDOW_DAYS}-${(validFrom - originTs) / DAY_MS}), ${validSlates.length} validation; features from the ${FEATURE_WINDOW_DAYS} days before each day`);

  const template = commerceV1Features(options.features);
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
  options.log(`rows: ${trainSet.click.length} train, ${validSet.click.length} validation; ${trainSet.vocabSizes.length} categorical fields, ${trainSet.num.length / trainSet.click.length} numeric`);

  const started = performance.now();
  const result = train(trainSet, { ...options.train, validation: validSet });
  const seconds = (performance.now() - started) / 1000;
  const rowsTrained = result.history.reduce((n, e) => n + e.trainRows, 0);
  // Timings go to the log, not the manifest: the artifact stays byte-reproducible.
  options.log(`trained ${result.history.length} epochs in ${seconds.toFixed(1)} s (${Math.round(rowsTrained / seconds)} rows/s incl. validation passes); best epoch ${result.bestEpoch}`);

  const fp32 = exportFp32(result.model);
  const int8 = exportInt8(result.model);
  const metrics = { fp32: roundMetrics(await exportMetrics(fp32, validSet)), int8: roundMetrics(await exportMetrics(int8, validSet)) };
  const digest = createHash('sha256').update(int8).digest('hex').slice(0, 12);
  const manifest = parseManifest({
    ...draft,
    model: {
      id: options.modelId,
      version: digest,
      description: 'ESMM multi-task CTR/CVR network (shared bottom over embeddings and numeric features; position tower dropped at export), int8 dynamic quantization',
      quantization: 'int8: DynamicQuantizeLinear + MatMulInteger; int8 embeddings dequantized after Gather',
    },
    metrics: { validation: { rows: validSet.click.length, slates: validSlates.length, ...metrics } },
    training: {
      ...options.provenance,
      feature_window_days: FEATURE_WINDOW_DAYS,
      validation_days: options.validationDays,
      rows: trainSet.click.length,
      epochs_run: result.history.length,
      best_epoch: result.bestEpoch,
      shape: result.model.shape,
      options: { ...options.train, log: undefined, onProgress: undefined },
    },
  });
  return { manifest, int8, fp32, result, trainSet, validSet, trainSlates, validSlates, metrics };
}
