import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { exportFp32, fuseHeads } from '../../model/onnx/export.ts';
import { exportInt8, quantizeColumns } from '../../model/onnx/quantize.ts';
import { generateSynthetic } from '../../model/train/synthetic.ts';
import { train } from '../../model/train/trainer.ts';
import { predict, type Predictions } from '../../model/train/predict.ts';
import { sliceRows } from '../../model/train/dataset.ts';
import { Rng } from '../../model/train/random.ts';
import { auc, maxAbsDiff } from '../../model/train/metrics.ts';
import type { RankerModel, TrainingSet } from '../../model/train/types.ts';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;

// Parity is checked at the 'basic' level: 'extended'/'all' may rewrite int8 layers (DESIGN.md), and
// onnxruntime-web, which the worker runs, agrees with onnxruntime-node at 'basic' to ~1e-7.
async function runOnnx(bytes: Uint8Array, model: RankerModel, cat: Int32Array, num: Float32Array): Promise<Predictions & { dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'basic' });
  const n = cat.length / model.embedding.vocabSizes.length;
  const out = await session.run({
    cat: new ort.Tensor('int32', cat, [n, model.embedding.vocabSizes.length]),
    num: new ort.Tensor('float32', num, [n, model.numericDim]),
  });
  return { pCtr: out['p_ctr']!.data as Float32Array, pCvr: out['p_cvr']!.data as Float32Array, dims: out['p_ctr']!.dims };
}

/** Random rows plus, for every field, a row with index 0 and a row with the field's last index. */
function probeRows(model: RankerModel, count: number, seed: number): { cat: Int32Array; num: Float32Array } {
  const rng = new Rng(seed);
  const vocab = model.embedding.vocabSizes;
  const fields = vocab.length;
  const rows = count + 2 * fields;
  const cat = new Int32Array(rows * fields);
  for (let r = 0; r < rows; r++) for (let c = 0; c < fields; c++) cat[r * fields + c] = rng.int(vocab[c]!);
  for (let c = 0; c < fields; c++) {
    cat[(count + 2 * c) * fields + c] = 0;
    cat[(count + 2 * c + 1) * fields + c] = vocab[c]! - 1;
  }
  const num = Float32Array.from({ length: rows * model.numericDim }, () => rng.normal() * 1.5);
  return { cat, num };
}

function opTypes(bytes: Uint8Array): string[] {
  return onnx.ModelProto.decode(bytes).graph!.node!.map((n) => n.opType!);
}

const VOCAB = [300, 40, 7, 3];
let data: TrainingSet;
let test: TrainingSet;
let linearHeads: RankerModel;
let deepHeads: RankerModel;
let dotInteractions: RankerModel;

beforeAll(() => {
  data = generateSynthetic({ rows: 30_000, vocabSizes: VOCAB, numericDim: 5, seed: 21 }).set;
  test = sliceRows(data, 20_000, 30_000);
  const trainRows = sliceRows(data, 0, 20_000);
  const options = { epochs: 4, seed: 1, log: null } as const;
  linearHeads = train(trainRows, { ...options, shape: { embeddingDim: 8, hidden: [32, 16], headHidden: [] } }).model;
  dotInteractions = train(trainRows, { ...options, shape: { embeddingDim: 8, hidden: [32, 16], headHidden: [], interactions: 'dot' } }).model;
  deepHeads = train(trainRows, { ...options, shape: { embeddingDim: 8, hidden: [32, 16], headHidden: [8], maxPosition: 5, positionCrossField: 3 } }).model;
});

describe('ONNX signature', () => {
  it('declares opset 17 (int8: and com.microsoft 1), IR 8, cat int32 [N, C], num float32 [N, D] -> p_ctr, p_cvr float32 [N]', async () => {
    for (const [bytes, opsets] of [[exportFp32(linearHeads), [['', 17]]], [exportInt8(linearHeads), [['', 17], ['com.microsoft', 1]]]] as const) {
      const proto = onnx.ModelProto.decode(bytes);
      expect(Number(proto.irVersion)).toBe(8);
      expect(proto.opsetImport!.map((o) => [o.domain, Number(o.version)])).toEqual(opsets);
      const signature = (v: onnxProto.onnx.IValueInfoProto) => ({
        name: v.name,
        type: v.type!.tensorType!.elemType,
        shape: v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue)),
      });
      expect(proto.graph!.input!.map(signature)).toEqual([
        { name: 'cat', type: T.INT32, shape: ['N', VOCAB.length] },
        { name: 'num', type: T.FLOAT, shape: ['N', 5] },
      ]);
      expect(proto.graph!.output!.map(signature)).toEqual([
        { name: 'p_ctr', type: T.FLOAT, shape: ['N'] },
        { name: 'p_cvr', type: T.FLOAT, shape: ['N'] },
      ]);
      const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'basic' });
      expect(session.inputNames).toEqual(['cat', 'num']);
      expect(session.outputNames).toEqual(['p_ctr', 'p_cvr']);
      const { cat, num } = probeRows(linearHeads, 7, 1);
      const out = await runOnnx(bytes, linearHeads, cat, num);
      expect(out.dims).toEqual([7 + 2 * VOCAB.length]);
    }
  });

  it('fp32 graph: offset Add, one Gather, Reshape, Concat, MatMul+Add+Relu layers, fused heads, Sigmoid', () => {
    expect(opTypes(exportFp32(linearHeads))).toEqual([
      'Add', 'Gather', 'Reshape', 'Concat',
      'MatMul', 'Add', 'Relu',
      'MatMul', 'Add', 'Relu',
      'MatMul', 'Add', // both heads' logits in one [16, 2] layer
      'Sigmoid', 'Gather', 'Gather',
    ]);
  });

  it('int8 graph: the int8 table dequantized as a whole (constants only), int8 compute (DynamicQuantizeMatMul, bias fused) in every dense layer', () => {
    const bytes = exportInt8(linearHeads);
    const dense = 'DynamicQuantizeMatMul';
    const fields = VOCAB.length;
    expect(opTypes(bytes)).toEqual([
      'Add',
      ...Array<string>(fields).fill('Expand'), 'Concat', 'Cast', 'Mul', // one scale per field, per row of the table
      'Gather', 'Reshape',
      // first layer: embeddings and numeric features quantized separately, then summed
      dense, dense, 'Add', 'Relu',
      dense, 'Relu',
      dense,
      'Sigmoid', 'Gather', 'Gather',
    ]);
    const graph = onnx.ModelProto.decode(bytes).graph!;
    for (const n of graph.node!) expect(n.domain || '').toBe(n.opType === dense ? 'com.microsoft' : '');
    const table = graph.initializer!.find((t) => t.name === 'embedding_table_q')!;
    expect(table.dataType).toBe(T.INT8);
    const cast = graph.node!.find((n) => n.opType === 'Cast')!;
    const mul = graph.node!.find((n) => n.opType === 'Mul')!;
    const gather = graph.node!.find((n) => n.opType === 'Gather')!;
    expect(cast.input![0]).toBe('embedding_table_q');
    expect(mul.input![0]).toBe(cast.output![0]);
    expect(gather.input).toEqual([mul.output![0], graph.node![0]!.output![0]]);
    // Dequantized by Cast and Mul, never DequantizeLinear: ORT's QDQ rewrites of a per-axis DQ with
    // several consumers cost more than the whole network (see quantize.ts).
    expect(graph.node!.some((n) => n.opType === 'DequantizeLinear' || n.opType === 'QuantizeLinear')).toBe(false);
    // each field's scale, expanded over the field's rows
    for (let c = 0; c < fields; c++) {
      const rows = graph.initializer!.find((t) => t.name === `embedding_rows_${c}`)!;
      expect(rows.rawData ? Array.from(new BigInt64Array(new Uint8Array(rows.rawData).slice().buffer), Number) : rows.int64Data!.map(Number)).toEqual([VOCAB[c], 1]);
    }
    // every dense layer's bias is the kernel's fifth input
    const kernels = graph.node!.filter((n) => n.opType === dense);
    expect(kernels.map((n) => n.input!.length)).toEqual([5, 4, 5, 5]);
    expect(graph.node!.some((n) => n.opType === 'MatMul')).toBe(false);
    // Weights are int8, symmetric (zero point 0).
    for (const t of graph.initializer!) {
      if (t.name!.endsWith('_weight_q')) expect(t.dataType).toBe(T.INT8);
      if (t.name!.endsWith('_weight_zero')) expect(Array.from(t.rawData!).every((b) => b === 0)).toBe(true);
    }
    // Weights dominate real models (4x smaller); this small one carries fixed graph overhead too.
    expect(bytes.length).toBeLessThan(exportFp32(linearHeads).length / 2);
  });
});

describe('ONNX int8 embedding table at serving time', () => {
  it("is dequantized once, when the session is created: ORT's constant folding at 'basic' leaves a Gather over a float table", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-ranker-optimized-'));
    try {
      const optimized = join(dir, 'optimized.onnx');
      await ort.InferenceSession.create(exportInt8(dotInteractions), { graphOptimizationLevel: 'basic', optimizedModelFilePath: optimized });
      const graph = onnx.ModelProto.decode(readFileSync(optimized)).graph!;
      const ops = graph.node!.map((n) => n.opType);
      for (const folded of ['Expand', 'Concat', 'Cast', 'Mul']) expect(ops).not.toContain(folded);
      const gather = graph.node!.find((n) => n.opType === 'Gather')!;
      const table = graph.initializer!.find((t) => t.name === gather.input![0])!;
      expect(table.dataType).toBe(T.FLOAT);
      expect(table.dims!.map(Number)).toEqual([VOCAB.reduce((a, b) => a + b, 0), dotInteractions.embedding.dim]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ONNX with dot interactions', () => {
  it('computes the pairwise dots from the (dequantized) embeddings: Transpose, MatMul, then a 0/1 MatMul picking the upper triangle', () => {
    const ops = opTypes(exportFp32(dotInteractions));
    expect(ops.slice(0, 8)).toEqual(['Add', 'Gather', 'Reshape', 'Transpose', 'MatMul', 'Reshape', 'MatMul', 'Concat']);
    const graph = onnx.ModelProto.decode(exportInt8(dotInteractions)).graph!;
    expect(graph.node!.filter((n) => n.opType !== 'Expand').slice(0, 10).map((n) => n.opType)).toEqual(['Add', 'Concat', 'Cast', 'Mul', 'Gather', 'Reshape', 'Transpose', 'MatMul', 'Reshape', 'MatMul']);
    // The float MatMuls are the embeddings' Gram matrix and the pick (no weights); every dense layer is int8.
    const matMuls = graph.node!.filter((n) => n.opType === 'MatMul');
    expect(matMuls).toHaveLength(2);
    expect(matMuls[0]!.input![0]).toBe(graph.node!.find((n) => n.opType === 'Gather')!.output![0]);
    expect(matMuls[1]!.input![1]).toBe('interaction_pairs');
    const c = VOCAB.length;
    const pairs = (c * (c - 1)) / 2;
    const pick = graph.initializer!.find((t) => t.name === 'interaction_pairs')!;
    expect(pick.dims!.map(Number)).toEqual([c * c, pairs]);
    // one 1 per pair, at the cell (a, b) with a < b, pairs in row-major order; zeros elsewhere
    const values = new Float32Array(new Uint8Array(pick.rawData!).slice().buffer);
    const ones: Array<[number, number]> = [];
    values.forEach((v, k) => {
      if (v !== 0) ones.push([Math.floor(k / pairs), k % pairs]);
      expect(v === 0 || v === 1).toBe(true);
    });
    const expected: Array<[number, number]> = [];
    for (let a = 0, pair = 0; a < c; a++) for (let b = a + 1; b < c; b++, pair++) expected.push([a * c + b, pair]);
    expect(ones).toEqual(expected);
  });
});

describe('ONNX fp32 parity with the trainer', () => {
  for (const [name, model] of [['linear heads', () => linearHeads], ['hidden head layers', () => deepHeads], ['dot interactions', () => dotInteractions]] as const) {
    it(`onnxruntime-node equals predict() within 1e-5 (${name})`, async () => {
      const { cat, num } = probeRows(model(), 500, 2);
      const expected = predict(model(), cat, num);
      const got = await runOnnx(exportFp32(model()), model(), cat, num);
      expect(maxAbsDiff(got.pCtr, expected.pCtr)).toBeLessThanOrEqual(1e-5);
      expect(maxAbsDiff(got.pCvr, expected.pCvr)).toBeLessThanOrEqual(1e-5);
    });
  }

  it('fuses the heads exactly', () => {
    const [first, second] = fuseHeads(deepHeads.ctrHead, deepHeads.cvrHead);
    expect(first!.inSize).toBe(16);
    expect(first!.outSize).toBe(16);
    expect(second!.inSize).toBe(16);
    expect(second!.outSize).toBe(2);
    // Off-diagonal blocks of the second layer are zeros: the CVR hidden units never reach p_ctr.
    for (let k = 8; k < 16; k++) expect(second!.weight[k * 2]).toBe(0);
    for (let k = 0; k < 8; k++) expect(second!.weight[k * 2 + 1]).toBe(0);
  });
});

describe('ONNX int8 against fp32', () => {
  // Documented tolerances (measured on these models: max |dp| ~0.01, mean ~0.001, |dAUC| <= 0.0008
  // on 10k test rows; on a 250k-row model with 6 fields: max 0.016, |dAUC| <= 0.0002).
  const MAX_ABS = 0.03;
  const MEAN_ABS = 0.003;
  const AUC_DELTA = 0.002;

  for (const [name, model] of [['linear heads', () => linearHeads], ['hidden head layers', () => deepHeads], ['dot interactions', () => dotInteractions]] as const) {
    it(`stays within tolerance of the fp32 model (${name})`, async () => {
      const m = model();
      const fp32 = await runOnnx(exportFp32(m), m, test.cat, test.num);
      const int8 = await runOnnx(exportInt8(m), m, test.cat, test.num);
      let mean = 0;
      for (let i = 0; i < fp32.pCtr.length; i++) mean += Math.abs(int8.pCtr[i]! - fp32.pCtr[i]!) / fp32.pCtr.length;
      expect(maxAbsDiff(int8.pCtr, fp32.pCtr)).toBeLessThan(MAX_ABS);
      expect(maxAbsDiff(int8.pCvr, fp32.pCvr)).toBeLessThan(MAX_ABS);
      expect(mean).toBeLessThan(MEAN_ABS);
      expect(Math.abs(auc(int8.pCtr, test.click) - auc(fp32.pCtr, test.click))).toBeLessThan(AUC_DELTA);
      expect(Math.abs(auc(int8.pCvr, test.purchase, test.click) - auc(fp32.pCvr, test.purchase, test.click))).toBeLessThan(AUC_DELTA);
      // Edge indices run too (0 and the last row of every field).
      const probe = probeRows(m, 0, 3);
      const edge = await runOnnx(exportInt8(m), m, probe.cat, probe.num);
      expect(maxAbsDiff(edge.pCtr, predict(m, probe.cat, probe.num).pCtr)).toBeLessThan(MAX_ABS);
    });
  }

  it('quantizes weights per output column, symmetric, within half a step', () => {
    const layer = linearHeads.bottom[1]!;
    const { values, scales } = quantizeColumns(layer.weight, layer.inSize, layer.outSize);
    for (let k = 0; k < layer.inSize; k++) {
      for (let j = 0; j < layer.outSize; j++) {
        const i = k * layer.outSize + j;
        expect(Math.abs(values[i]! * scales[j]! - layer.weight[i]!)).toBeLessThanOrEqual(scales[j]! / 2 + 1e-9);
        expect(Math.abs(values[i]!)).toBeLessThanOrEqual(127);
      }
    }
  });
});
