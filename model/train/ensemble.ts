// Merges K reference networks of the same shape (e.g. trained with different seeds) into ONE
// network whose CTR and CVR logits are the mean of the K networks' logits, exactly. The merged model
// is an ordinary RankerModel, so the fp32 and int8 exporters and the worker serve it unchanged:
//
//   embeddings: one stacked table of width K*dim (row r = the K models' rows r side by side)
//   bottom:     layer 0 maps each model's input columns to its own block of K*h0 outputs; later
//               layers are block-diagonal
//   heads:      hidden head layers block-diagonal; the final (logit) layer stacks the K columns,
//               each scaled by 1/K, with the mean bias
//   position:   mean of the towers (training-only; not exported)
//
// Useful when training data is small: averaging seeds lowers the variance of the ranking without a
// second model at serving time (cost: K times the width).
import type { DenseLayer, RankerModel } from './types.ts';

function sameShape(models: readonly RankerModel[]): void {
  const first = models[0]!;
  const key = (m: RankerModel) =>
    JSON.stringify([m.shape.embeddingDim, m.shape.hidden, m.shape.headHidden, m.numericDim, m.embedding.vocabSizes, m.position.maxPosition, m.position.crossField]);
  const expected = key(first);
  models.forEach((m, i) => {
    if (key(m) !== expected) throw new Error(`model ${i} differs in shape from model 0; only same-shape models can be merged`);
  });
}

/** Block-diagonal layer: input block k feeds output block k. */
function blockDiagonal(layers: readonly DenseLayer[]): DenseLayer {
  const inSize = layers.reduce((n, l) => n + l.inSize, 0);
  const outSize = layers.reduce((n, l) => n + l.outSize, 0);
  const weight = new Float32Array(inSize * outSize);
  const bias = new Float32Array(outSize);
  let rowOffset = 0;
  let colOffset = 0;
  for (const l of layers) {
    for (let i = 0; i < l.inSize; i++) {
      for (let j = 0; j < l.outSize; j++) weight[(rowOffset + i) * outSize + colOffset + j] = l.weight[i * l.outSize + j]!;
    }
    bias.set(l.bias, colOffset);
    rowOffset += l.inSize;
    colOffset += l.outSize;
  }
  return { inSize, outSize, weight, bias };
}

/** The final logit layer: inputs stacked, weights and bias averaged over the K models. */
function averagedLogit(layers: readonly DenseLayer[]): DenseLayer {
  const K = layers.length;
  const inSize = layers.reduce((n, l) => n + l.inSize, 0);
  const weight = new Float32Array(inSize);
  const bias = new Float32Array(1);
  let offset = 0;
  for (const l of layers) {
    if (l.outSize !== 1) throw new Error('a head must end in a single logit');
    for (let i = 0; i < l.inSize; i++) weight[offset + i] = l.weight[i]! / K;
    bias[0] = bias[0]! + l.bias[0]! / K;
    offset += l.inSize;
  }
  return { inSize, outSize: 1, weight, bias };
}

function mergeHead(heads: readonly DenseLayer[][]): DenseLayer[] {
  const depth = heads[0]!.length;
  return Array.from({ length: depth }, (_, l) => (l < depth - 1 ? blockDiagonal(heads.map((h) => h[l]!)) : averagedLogit(heads.map((h) => h[l]!))));
}

/** Shape options this merge does not know how to represent (e.g. DLRM-style pairwise dot products). */
function unsupportedShape(model: RankerModel): string | null {
  const known = new Set(['embeddingDim', 'hidden', 'headHidden', 'maxPosition', 'positionCrossField']);
  for (const [key, value] of Object.entries(model.shape)) {
    if (known.has(key) || value === undefined || value === null || value === 'none' || value === false) continue;
    return `${key}: ${JSON.stringify(value)}`;
  }
  return null;
}

export function mergeEnsemble(models: readonly RankerModel[]): RankerModel {
  if (models.length === 0) throw new Error('nothing to merge');
  if (models.length === 1) return models[0]!;
  const unsupported = unsupportedShape(models[0]!);
  // Pairwise embedding dot products of the merged (K*dim wide) table would sum the K models' dots,
  // which is not what any of them computed: refuse rather than export a different model.
  if (unsupported) throw new Error(`cannot merge models with shape ${unsupported}; train them without it or serve one seed`);
  sameShape(models);
  const K = models.length;
  const first = models[0]!;
  const { dim, vocabSizes, offsets } = first.embedding;
  const fields = vocabSizes.length;
  const tableRows = first.embedding.table.length / dim;
  const mergedDim = K * dim;

  const table = new Float32Array(tableRows * mergedDim);
  for (let r = 0; r < tableRows; r++) {
    models.forEach((m, k) => table.set(m.embedding.table.subarray(r * dim, (r + 1) * dim), r * mergedDim + k * dim));
  }

  // Bottom layer 0: model k reads field c's columns [c*dim, (c+1)*dim) and the numeric columns.
  const D = first.numericDim;
  const h0 = first.bottom[0]!.outSize;
  const inSize = fields * mergedDim + D;
  const outSize = K * h0;
  const weight = new Float32Array(inSize * outSize);
  const bias = new Float32Array(outSize);
  models.forEach((m, k) => {
    const layer = m.bottom[0]!;
    for (let c = 0; c < fields; c++) {
      for (let j = 0; j < dim; j++) {
        const src = c * dim + j;
        const dst = c * mergedDim + k * dim + j;
        for (let o = 0; o < h0; o++) weight[dst * outSize + k * h0 + o] = layer.weight[src * h0 + o]!;
      }
    }
    for (let d = 0; d < D; d++) {
      const src = fields * dim + d;
      const dst = fields * mergedDim + d;
      for (let o = 0; o < h0; o++) weight[dst * outSize + k * h0 + o] = layer.weight[src * h0 + o]!;
    }
    bias.set(layer.bias, k * h0);
  });
  const bottom: DenseLayer[] = [{ inSize, outSize, weight, bias }];
  for (let l = 1; l < first.bottom.length; l++) bottom.push(blockDiagonal(models.map((m) => m.bottom[l]!)));

  const mean = (arrays: Float32Array[]) => {
    const out = new Float32Array(arrays[0]!.length);
    for (const a of arrays) for (let i = 0; i < a.length; i++) out[i] = out[i]! + a[i]! / K;
    return out;
  };
  return {
    shape: {
      ...first.shape,
      embeddingDim: mergedDim,
      hidden: first.shape.hidden.map((h) => K * h),
      headHidden: first.shape.headHidden.map((h) => K * h),
    },
    numericDim: D,
    embedding: { dim: mergedDim, vocabSizes: [...vocabSizes], offsets: [...offsets], table },
    bottom,
    ctrHead: mergeHead(models.map((m) => m.ctrHead)),
    cvrHead: mergeHead(models.map((m) => m.cvrHead)),
    position: {
      maxPosition: first.position.maxPosition,
      crossField: first.position.crossField,
      bias: mean(models.map((m) => m.position.bias)),
      cross: mean(models.map((m) => m.position.cross)),
    },
  };
}
