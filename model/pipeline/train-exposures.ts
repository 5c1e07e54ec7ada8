// Training on the worker's own exposure log (model/data/exposure-log.ts): the logged inputs are
// already the assembled tensors of the feature model's manifest, so the new model reuses that
// manifest's features, transforms and vocabularies unchanged (it is served by the same assembler)
// and only its weights are learned. The network shape and the distillation default to the feature
// model's own (manifest.training.shape and .distillation), so the comparison with it is about the
// data, not the recipe.
import { createHash } from 'node:crypto';
import { exposureTrainingSet, type ExposureSlate } from '../data/exposure-log.ts';
import { parseManifest, type Manifest } from '../features/manifest.ts';
import { exportFp32 } from '../onnx/export.ts';
import { exportInt8 } from '../onnx/quantize.ts';
import { distillationRecord, trainDistilled, type DistillOptions } from '../train/distill.ts';
import type { TrainOptions, TrainResult } from '../train/trainer.ts';
import type { ModelShape, TrainingSet } from '../train/types.ts';

export interface TrainOnExposuresOptions {
  /** the new model's id */
  modelId: string;
  train: Omit<TrainOptions, 'validation'>;
  /** default: the feature model's (manifest.training.distillation), else none */
  distill?: DistillOptions;
  /** recorded in the manifest's training block */
  provenance: Record<string, unknown>;
}

export interface ExposureTrainedModel {
  manifest: Manifest;
  int8: Uint8Array;
  fp32: Uint8Array;
  result: TrainResult;
  trainSet: TrainingSet;
  validSet: TrainingSet;
}

/**
 * Trains on `trainSlates` (early stopping on `validSlates`) with the feature model's manifest
 * `base`; returns a manifest for the new model (same features, new id and version).
 */
export function trainOnExposures(base: Manifest, trainSlates: readonly ExposureSlate[], validSlates: readonly ExposureSlate[], options: TrainOnExposuresOptions): ExposureTrainedModel {
  if (trainSlates.length === 0 || validSlates.length === 0) throw new Error('training on exposures needs training and validation slates');
  const trainSet = exposureTrainingSet(base, trainSlates);
  const validSet = exposureTrainingSet(base, validSlates);
  const recorded = base.training as { shape?: Partial<ModelShape>; distillation?: Partial<DistillOptions> } | undefined;
  const distill = options.distill ?? recordedDistillation(recorded?.distillation);
  const distilled = trainDistilled(trainSet, { ...options.train, shape: { ...recorded?.shape, ...options.train.shape }, validation: validSet }, distill);
  const result = distilled.student;
  const fp32 = exportFp32(result.model);
  const int8 = exportInt8(result.model);
  const version = createHash('sha256').update(int8).digest('hex').slice(0, 12);
  const manifest = parseManifest({
    ...base,
    model: {
      ...base.model,
      id: options.modelId,
      version,
      description: `${base.model.description ?? 'ranker'}; retrained on the exposure log of ${base.model.id}@${base.model.version}`,
    },
    metrics: undefined,
    training: {
      ...options.provenance,
      data: 'worker exposure log joined with outcomes (model/data/exposure-log.ts); logged model inputs, no re-assembly',
      features_from: { id: base.model.id, version: base.model.version },
      rows: trainSet.click.length,
      validation_rows: validSet.click.length,
      epochs_run: result.history.length,
      best_epoch: result.bestEpoch,
      ...distillationRecord(distill, distilled),
      shape: result.model.shape,
      options: { ...options.train, log: undefined, onProgress: undefined },
    },
  });
  return { manifest, int8, fp32, result, trainSet, validSet };
}

/** The feature model's distillation as its manifest records it; none if it records none. */
function recordedDistillation(recorded: Partial<DistillOptions> | undefined): DistillOptions | undefined {
  if (!recorded || typeof recorded.teachers !== 'number') return undefined;
  return {
    teachers: recorded.teachers,
    hardLabelWeight: typeof recorded.hardLabelWeight === 'number' ? recorded.hardLabelWeight : 0,
    ...(typeof recorded.teacherPatience === 'number' ? { teacherPatience: recorded.teacherPatience } : {}),
  };
}
