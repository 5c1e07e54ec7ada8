// Exports the trainer's RankerModel to ONNX (opset 17, IR 8) in the served form: no position tower,
// so scores are those of position 1. The graph skeleton is shared with the int8 export
// (quantize.ts); only how embeddings and dense layers are emitted differs.
//
//   cat int32 [N, C] --Add(field offsets)--> Gather(one stacked table) --> [N, C, dim]
//     --Reshape [N, C*dim]--> Concat(pairwise dots, num float32 [N, D]) --> (dense, Relu) per bottom layer
//   pairwise dots (with interactions 'dot'): MatMul([N, C, dim], Transpose [N, dim, C]) = [N, C, C]
//     --Reshape [N, C*C]--> MatMul(a 0/1 matrix picking the upper triangle's a < b cells,
//     row-major) --> [N, C(C-1)/2]; exact (each output is one cell times 1 plus zeros), and in
//     ORT's wasm build faster than a Gather on axis 1, which copies one float at a time
//     --> both heads side by side (one dense per head layer) --> Sigmoid [N, 2]
//     --> Gather column 0 = p_ctr [N], column 1 = p_cvr [N]
//
// int32 indices: ORT's Gather takes them, and the worker avoids BigInt64Array.
import { GraphBuilder, type OpsetImport, type ValueInfo } from './graph.ts';
import { interactionCount } from '../train/model.ts';
import type { DenseLayer, RankerModel } from '../train/types.ts';

export const INPUT_CAT = 'cat';
export const INPUT_NUM = 'num';
export const OUTPUT_P_CTR = 'p_ctr';
export const OUTPUT_P_CVR = 'p_cvr';

/** Emits y = x @ layer.weight + layer.bias (no activation) and returns y's name. */
export type DenseEmitter = (g: GraphBuilder, x: string, layer: DenseLayer, name: string) => string;

/** Emits the float [N, C, dim] embeddings of the offset indices and returns their name. */
export type EmbeddingEmitter = (g: GraphBuilder, indices: string, model: RankerModel) => string;

/** A block of columns of the first layer's input: the flattened embeddings, or `num`. */
export interface InputBlock {
  name: string;
  width: number;
}

/** Emits the first dense layer over its input given as column blocks (no activation). */
export type FirstDenseEmitter = (g: GraphBuilder, blocks: InputBlock[], layer: DenseLayer, name: string) => string;

export interface GraphParts {
  embedding: EmbeddingEmitter;
  /** The first bottom layer; defaults to Concat of the blocks, then `dense`. */
  firstDense?: FirstDenseEmitter;
  dense: DenseEmitter;
  /** Emitter for the (fused) head layers; defaults to `dense`. */
  headDense?: DenseEmitter;
  metadata?: Record<string, string>;
  /** operator sets besides the default domain's (e.g. com.microsoft for ORT's contrib ops) */
  opsets?: OpsetImport[];
}

export const fp32Dense: DenseEmitter = (g, x, layer, name) => {
  const w = g.constant(`${name}_weight`, layer.weight, [layer.inSize, layer.outSize]);
  const b = g.constant(`${name}_bias`, layer.bias, [layer.outSize]);
  return g.op('Add', [g.op('MatMul', [x, w]), b]);
};

/** Rows [start, start+rows) of a layer, as a layer of its own (bias left to the caller). */
export function layerRows(layer: DenseLayer, start: number, rows: number): DenseLayer {
  const weight = layer.weight.slice(start * layer.outSize, (start + rows) * layer.outSize);
  return { inSize: rows, outSize: layer.outSize, weight, bias: new Float32Array(layer.outSize) };
}

export const fp32Embedding: EmbeddingEmitter = (g, indices, model) => {
  const { table, dim } = model.embedding;
  const t = g.constant('embedding_table', table, [table.length / dim, dim]);
  return g.op('Gather', [t, indices], { axis: 0 });
};

/**
 * The CTR and CVR heads as one tower of twice the width: the first layer's weights side by side,
 * later layers block-diagonal. Exact (the off-diagonal blocks are zeros) and half the nodes, which
 * matters at serving batch sizes where per-node overhead dominates.
 */
export function fuseHeads(ctr: DenseLayer[], cvr: DenseLayer[]): DenseLayer[] {
  if (ctr.length !== cvr.length) throw new Error('the CTR and CVR heads must have the same depth');
  return ctr.map((a, l) => {
    const b = cvr[l]!;
    const shared = l === 0;
    if (shared && a.inSize !== b.inSize) throw new Error('head inputs differ in width');
    const inSize = shared ? a.inSize : a.inSize + b.inSize;
    const outSize = a.outSize + b.outSize;
    const weight = new Float32Array(inSize * outSize);
    for (let k = 0; k < a.inSize; k++) {
      for (let j = 0; j < a.outSize; j++) weight[k * outSize + j] = a.weight[k * a.outSize + j]!;
    }
    const rowOffset = shared ? 0 : a.inSize;
    for (let k = 0; k < b.inSize; k++) {
      for (let j = 0; j < b.outSize; j++) weight[(rowOffset + k) * outSize + a.outSize + j] = b.weight[k * b.outSize + j]!;
    }
    const bias = new Float32Array(outSize);
    bias.set(a.bias, 0);
    bias.set(b.bias, a.outSize);
    return { inSize, outSize, weight, bias };
  });
}

/** The input and output signature every exported ranker has. */
export function rankerSignature(model: RankerModel): { inputs: ValueInfo[]; outputs: ValueInfo[] } {
  const fields = model.embedding.vocabSizes.length;
  return {
    inputs: [
      { name: INPUT_CAT, dtype: 'int32', shape: ['N', fields] },
      { name: INPUT_NUM, dtype: 'float32', shape: ['N', model.numericDim] },
    ],
    outputs: [
      { name: OUTPUT_P_CTR, dtype: 'float32', shape: ['N'] },
      { name: OUTPUT_P_CVR, dtype: 'float32', shape: ['N'] },
    ],
  };
}

/** Builds and encodes the served graph with the given layer emitters. */
export function buildRankerGraph(model: RankerModel, parts: GraphParts): Uint8Array {
  const g = new GraphBuilder('edge_ranker');
  const { dim, offsets, vocabSizes } = model.embedding;
  const fields = vocabSizes.length;

  const fieldOffsets = g.constant('field_offsets', Int32Array.from(offsets), [fields]);
  const indices = g.op('Add', [INPUT_CAT, fieldOffsets]);
  const embedded = parts.embedding(g, indices, model);
  const flatShape = g.constant('embedding_flat_shape', BigInt64Array.of(-1n, BigInt(fields * dim)), [2]);
  const blocks: InputBlock[] = [{ name: g.op('Reshape', [embedded, flatShape]), width: fields * dim }];
  const pairs = interactionCount(model.shape, fields);
  if (pairs > 0) {
    const gram = g.op('MatMul', [embedded, g.op('Transpose', [embedded], { perm: [0, 2, 1] })]);
    const gramShape = g.constant('interaction_flat_shape', BigInt64Array.of(-1n, BigInt(fields * fields)), [2]);
    // column `pair` takes the cell (a, b), a < b, pairs in row-major order
    const upper = new Float32Array(fields * fields * pairs);
    let pair = 0;
    for (let a = 0; a < fields; a++) for (let b = a + 1; b < fields; b++) upper[(a * fields + b) * pairs + pair++] = 1;
    const pick = g.constant('interaction_pairs', upper, [fields * fields, pairs]);
    blocks.push({ name: g.op('MatMul', [g.op('Reshape', [gram, gramShape]), pick]), width: pairs });
  }
  // With no numeric features the num input stays in the signature, unused.
  if (model.numericDim > 0) blocks.push({ name: INPUT_NUM, width: model.numericDim });

  const firstDense: FirstDenseEmitter =
    parts.firstDense ??
    ((gb, bs, layer, name) => parts.dense(gb, bs.length === 1 ? bs[0]!.name : gb.op('Concat', bs.map((b) => b.name), { axis: 1 }), layer, name));
  let x = '';
  model.bottom.forEach((layer, l) => {
    const z = l === 0 ? firstDense(g, blocks, layer, 'bottom0') : parts.dense(g, x, layer, `bottom${l}`);
    x = g.op('Relu', [z]);
  });
  const heads = fuseHeads(model.ctrHead, model.cvrHead);
  const headDense = parts.headDense ?? parts.dense;
  heads.forEach((layer, l) => {
    x = headDense(g, x, layer, `heads${l}`);
    if (l < heads.length - 1) x = g.op('Relu', [x]);
  });
  const probabilities = g.op('Sigmoid', [x]);
  const column = (i: number) => g.constant(`column_${i}`, BigInt64Array.of(BigInt(i)), []);
  g.node('Gather', [probabilities, column(0)], [OUTPUT_P_CTR], { axis: 1 });
  g.node('Gather', [probabilities, column(1)], [OUTPUT_P_CVR], { axis: 1 });

  const { inputs, outputs } = rankerSignature(model);
  const metadata: Record<string, string> = {
    'edge_ranker.fields': String(fields),
    'edge_ranker.embedding_dim': String(dim),
    'edge_ranker.numeric_dim': String(model.numericDim),
    'edge_ranker.interactions': model.shape.interactions ?? 'none',
    'edge_ranker.vocab_sizes': vocabSizes.join(','),
    ...parts.metadata,
  };
  return g.encode(inputs, outputs, [{ domain: '', version: 17 }, ...(parts.opsets ?? [])], metadata);
}

/** The served model in float32. */
export function exportFp32(model: RankerModel): Uint8Array {
  return buildRankerGraph(model, {
    embedding: fp32Embedding,
    dense: fp32Dense,
    metadata: { 'edge_ranker.quantization': 'none' },
  });
}
