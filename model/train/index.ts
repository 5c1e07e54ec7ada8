// The trainer's public API.
export type { TrainingSet, RankerModel, ModelShape, DenseLayer, EmbeddingTable, PositionTower } from './types.ts';
export { DEFAULT_SHAPE } from './types.ts';
export { train, type TrainOptions, type TrainProgress, type TrainResult, type EpochStats } from './trainer.ts';
export { predict, type Predictions } from './predict.ts';
export { evaluate, type Evaluation } from './evaluate.ts';
export { createModel, cloneModel } from './model.ts';
export { validateTrainingSet, splitTail, sliceRows, rowCount, numericDimOf } from './dataset.ts';
export { generateSynthetic, type SyntheticOptions, type SyntheticData } from './synthetic.ts';
export type { KernelBackend } from './kernels.ts';
export { auc, logloss, calibration, maxAbsDiff, product, both } from './metrics.ts';
