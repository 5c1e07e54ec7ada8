// The int8 export: the same graph as export.ts with int8 compute, in the pattern ONNX Runtime's
// quantize_dynamic produces and runs fast (measured here: within 0.0002 AUC of fp32 and as fast;
// weight-only int8, DequantizeLinear before a float MatMul, is not constant-folded and is slower).
//
//   dense:     DynamicQuantizeMatMul(x, W_q int8, per-column W scale, 0) -> Add bias: ORT's contrib
//              op (com.microsoft) for DynamicQuantizeLinear(x) -> MatMulInteger(x_q, W_q, x_zp, 0)
//              -> Cast -> Mul(x_scale * W scale), the pattern quantize_dynamic writes and the 'all'
//              optimisation level fuses into it. One node instead of five, with bit-identical
//              outputs (checked on the shipped model): ~20% less model time in ORT's wasm build
//              for a 100-row batch. The model needs onnxruntime (any build with contrib ops, web
//              and node included), which serves and evaluates it here.
//   embedding: Gather on the int8 table -> Cast float -> Mul by one scale per field ([C, 1] over
//              [N, C, dim]); only the gathered rows are dequantized, never the whole table.
import type { GraphBuilder } from './graph.ts';
import { buildRankerGraph, fp32Dense, layerRows, type DenseEmitter, type EmbeddingEmitter, type FirstDenseEmitter } from './export.ts';
import type { DenseLayer, RankerModel } from '../train/types.ts';

const FLOAT = 1; // onnx.TensorProto.DataType.FLOAT, for Cast's `to`
/** ORT's contrib operators (DynamicQuantizeMatMul) */
const MS_DOMAIN = 'com.microsoft';

export interface Int8Options {
  /**
   * Keep the (fused) head layers in float32. Default false: measured on a 250k-row model it did not
   * measurably help (max |dp| 0.0147 vs 0.0156, AUCs equal within 0.00003).
   */
  fp32Heads?: boolean;
}

/** Symmetric int8 with the scale max|v| / 127 (1 when all values are 0). */
function symmetricScale(maxAbs: number): number {
  return maxAbs > 0 ? maxAbs / 127 : 1;
}

function toInt8(value: number, scale: number): number {
  const q = Math.round(value / scale);
  return q > 127 ? 127 : q < -127 ? -127 : q;
}

/** Per-output-column symmetric quantization of a row-major [inSize, outSize] matrix. */
export function quantizeColumns(weight: Float32Array, inSize: number, outSize: number): { values: Int8Array; scales: Float32Array } {
  const scales = new Float32Array(outSize);
  for (let j = 0; j < outSize; j++) {
    let maxAbs = 0;
    for (let k = 0; k < inSize; k++) maxAbs = Math.max(maxAbs, Math.abs(weight[k * outSize + j]!));
    scales[j] = symmetricScale(maxAbs);
  }
  const values = new Int8Array(weight.length);
  for (let k = 0; k < inSize; k++) {
    for (let j = 0; j < outSize; j++) values[k * outSize + j] = toInt8(weight[k * outSize + j]!, scales[j]!);
  }
  return { values, scales };
}

/** Per-field symmetric quantization of the stacked embedding table. */
export function quantizeEmbedding(model: RankerModel): { values: Int8Array; scales: Float32Array } {
  const { table, dim, offsets, vocabSizes } = model.embedding;
  const scales = new Float32Array(vocabSizes.length);
  const values = new Int8Array(table.length);
  vocabSizes.forEach((vocab, c) => {
    const start = offsets[c]! * dim;
    const end = start + vocab * dim;
    let maxAbs = 0;
    for (let i = start; i < end; i++) maxAbs = Math.max(maxAbs, Math.abs(table[i]!));
    const scale = symmetricScale(maxAbs);
    scales[c] = scale;
    for (let i = start; i < end; i++) values[i] = toInt8(table[i]!, scale);
  });
  return { values, scales };
}

/**
 * x @ W in int8 compute, as float, plus `bias` when given: the kernel's optional fifth input, one
 * node instead of a product and an Add (at serving batch sizes each node's fixed cost is most of
 * its time).
 */
function int8Product(g: GraphBuilder, x: string, layer: DenseLayer, name: string, bias?: Float32Array): string {
  const { values, scales } = quantizeColumns(layer.weight, layer.inSize, layer.outSize);
  const w = g.constant(`${name}_weight_q`, values, [layer.inSize, layer.outSize]);
  const wScale = g.constant(`${name}_weight_scale`, scales, [layer.outSize]);
  // the kernel takes B's zero point per column, like its scale (symmetric: all 0)
  const wZero = g.constant(`${name}_weight_zero`, new Int8Array(layer.outSize), [layer.outSize]);
  const inputs = [x, w, wScale, wZero];
  if (bias) inputs.push(g.constant(`${name}_bias`, bias, [layer.outSize]));
  return g.op('DynamicQuantizeMatMul', inputs, {}, MS_DOMAIN);
}

export const int8Dense: DenseEmitter = (g, x, layer, name) => int8Product(g, x, layer, name, layer.bias);

/**
 * The first layer quantizes each input block on its own: DynamicQuantizeLinear has one scale per
 * tensor, and over the concatenated input the numeric z-scores (|x| up to ~5) would leave the
 * embeddings (|x| ~0.3) a handful of levels. Measured: ~10x lower max probability error.
 */
export const int8FirstDense: FirstDenseEmitter = (g, blocks, layer, name) => {
  let sum = '';
  let row = 0;
  blocks.forEach((block, b) => {
    // the layer's bias rides on the first block's product
    const part = int8Product(g, block.name, layerRows(layer, row, block.width), `${name}_block${b}`, b === 0 ? layer.bias : undefined);
    sum = b === 0 ? part : g.op('Add', [sum, part]);
    row += block.width;
  });
  return sum;
};

export const int8Embedding: EmbeddingEmitter = (g, indices, model) => {
  const { dim, vocabSizes } = model.embedding;
  const { values, scales } = quantizeEmbedding(model);
  const table = g.constant('embedding_table_q', values, [values.length / dim, dim]);
  // Dequantized as a whole table, before the Gather: every input of that Cast and Mul is a
  // constant, so ORT's constant folding (on at 'basic') runs them once when the session is
  // created, and a request pays for the Gather alone (the Cast and Mul on the gathered [N, C, dim]
  // were 9% of a 100-row run in wasm). The file keeps the int8 table; the session holds it in
  // float32 (4 bytes per value, ~0.2 MB for the shipped model). Each row's scale is its field's,
  // expanded from one value per field rather than stored per row. Cast then Mul is
  // DequantizeLinear with zero point 0, bit for bit; not DequantizeLinear itself, which ORT's QDQ
  // transformers rewrite (they made a 100-row batch 2.8x slower in onnxruntime-node).
  const rowScales = vocabSizes.map((vocab, c) =>
    g.op('Expand', [g.constant(`embedding_scale_${c}`, Float32Array.of(scales[c]!), [1, 1]), g.constant(`embedding_rows_${c}`, BigInt64Array.of(BigInt(vocab), 1n), [2])]),
  );
  const rowScale = rowScales.length === 1 ? rowScales[0]! : g.op('Concat', rowScales, { axis: 0 });
  const dequantized = g.op('Mul', [g.op('Cast', [table], { to: FLOAT }), rowScale]);
  return g.op('Gather', [dequantized, indices], { axis: 0 });
};

/** What exportInt8 writes, for a manifest's `model.quantization`. */
export const INT8_QUANTIZATION = 'int8: DynamicQuantizeMatMul (onnxruntime contrib: int8 weights, dynamically quantized activations); int8 embedding table dequantized once, by constant folding when the session is created';

/** The served model with int8 weights and int8 compute. */
export function exportInt8(model: RankerModel, options: Int8Options = {}): Uint8Array {
  return buildRankerGraph(model, {
    embedding: int8Embedding,
    firstDense: int8FirstDense,
    dense: int8Dense,
    headDense: options.fp32Heads ? fp32Dense : int8Dense,
    metadata: { 'edge_ranker.quantization': options.fp32Heads ? 'int8-dynamic, fp32 heads' : 'int8-dynamic' },
    opsets: [{ domain: MS_DOMAIN, version: 1 }],
  });
}
