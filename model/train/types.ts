// The trainer's data and model contracts. Plain typed arrays, so any data source (the synthetic
// world, logged impressions, a Parquet reader) can fill them without depending on the trainer.

/** N impressions in columnar, row-major form. */
export interface TrainingSet {
  /** [N, C] categorical indices; field c takes 0..vocabSizes[c]-1, and 0 means missing/unknown. */
  cat: Int32Array;
  /** [N, D] numeric features, already normalised. */
  num: Float32Array;
  /** [N] 1 if the impression was clicked. */
  click: Uint8Array;
  /** [N] 1 if it led to a purchase (a purchase implies a click). */
  purchase: Uint8Array;
  /** [N] 1-based displayed position; read only by the training-time position tower. */
  position: Int32Array;
  /** [C] vocabulary size per categorical field, index 0 included. */
  vocabSizes: number[];
  /**
   * Soft targets (distillation, model/train/distill.ts): per row, P(click at the logged position)
   * and P(click and purchase) as teachers predict them. When present, training fits these instead
   * of click and purchase; evaluation and early stopping always use the logged labels.
   */
  targets?: SoftTargets;
}

export interface SoftTargets {
  /** [N] in [0, 1] */
  click: Float32Array;
  /** [N] in [0, click] */
  clickPurchase: Float32Array;
}

/** y = x @ weight + bias, weight row-major [inSize, outSize] (the layout ONNX MatMul takes). */
export interface DenseLayer {
  inSize: number;
  outSize: number;
  weight: Float32Array;
  bias: Float32Array;
}

/** All fields' tables stacked into one [sum(vocabSizes), dim] matrix (one Gather at serving time). */
export interface EmbeddingTable {
  dim: number;
  vocabSizes: number[];
  /** First row of each field in `table`. */
  offsets: number[];
  table: Float32Array;
}

/**
 * Training-only position bias: a logit added to the CTR logit for the displayed position (and,
 * optionally, per (position, value of one categorical field) such as the device). Bucket 0 is
 * position 1 and is pinned to 0, so the served model, which has no tower, scores every item as if
 * it were shown first. Positions beyond maxPosition share the last bucket.
 */
export interface PositionTower {
  maxPosition: number;
  /** [maxPosition] */
  bias: Float32Array;
  /** Categorical field crossed with the position, or null. */
  crossField: number | null;
  /** [maxPosition, vocabSizes[crossField]] (empty without a cross field) */
  cross: Float32Array;
}

export interface ModelShape {
  /** Width of every field's embedding (one width, so serving needs one Gather). */
  embeddingDim: number;
  /** Shared-bottom hidden sizes, ReLU after each. */
  hidden: number[];
  /** Hidden sizes inside each head before its logit ([] = a linear head). */
  headHidden: number[];
  maxPosition: number;
  positionCrossField: number | null;
  /**
   * 'dot' (DLRM-style): the dot product of every pair of field embeddings joins the bottom's input,
   * so user x item tastes (a rank-k product of embeddings) need not be approximated by ReLUs.
   * Absent or 'none': embeddings and numeric features only.
   */
  interactions?: 'none' | 'dot';
}

export const DEFAULT_SHAPE: ModelShape = {
  embeddingDim: 12,
  hidden: [128, 64],
  headHidden: [],
  maxPosition: 20,
  positionCrossField: null,
  interactions: 'none',
};

/**
 * The multi-task ranker: embeddings ++ pairwise embedding dot products (if enabled) ++ numeric -> shared bottom -> CTR head and CVR head, each to
 * one logit. pCTR = sigmoid(ctr logit), pCVR = sigmoid(cvr logit), pCTCVR = pCTR * pCVR.
 */
export interface RankerModel {
  shape: ModelShape;
  numericDim: number;
  embedding: EmbeddingTable;
  /** ReLU after every layer. */
  bottom: DenseLayer[];
  /** ReLU after every layer but the last, which has outSize 1. */
  ctrHead: DenseLayer[];
  cvrHead: DenseLayer[];
  position: PositionTower;
}
