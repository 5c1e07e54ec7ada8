import { describe, expect, it } from 'vitest';
import { jsKernels } from '../../model/train/kernels.ts';
import { SimdKernels } from '../../model/train/simd-kernels.ts';
import { allParameters, createModel } from '../../model/train/model.ts';
import { Gradients, lossAndGradients, Workspace } from '../../model/train/network.ts';
import { Rng } from '../../model/train/random.ts';
import { generateSynthetic } from '../../model/train/synthetic.ts';
import { train } from '../../model/train/trainer.ts';
import { evaluate } from '../../model/train/evaluate.ts';
import { predict } from '../../model/train/predict.ts';
import { sliceRows } from '../../model/train/dataset.ts';
import { auc, calibration, logloss, maxAbsDiff } from '../../model/train/metrics.ts';
import type { KernelBackend } from '../../model/train/kernels.ts';
import type { ModelShape, RankerModel, TrainingSet } from '../../model/train/types.ts';

// ---------------------------------------------------------------------------------------------
// A float64 reference of the training objective, written independently of the trainer:
//   J = mean_i [ BCE(click_i, pCTR_i) + BCE(click_i AND purchase_i, pCTR_i * pCVR_i)
//               + l2/2 * sum_c |e_(c, i)|^2 ]
// with pCTR from the CTR logit plus the position tower, parameters in allParameters() order.
// ---------------------------------------------------------------------------------------------

interface Layer64 {
  inSize: number;
  outSize: number;
  w: Float64Array;
  b: Float64Array;
}

function referenceObjective(model: RankerModel, params: Float64Array[], set: TrainingSet, l2: number): { esmm: number; total: number } {
  const [table, ...dense] = params as [Float64Array, ...Float64Array[]];
  let next = 0;
  const take = (layers: RankerModel['bottom']): Layer64[] =>
    layers.map((l) => ({ inSize: l.inSize, outSize: l.outSize, w: dense[next++]!, b: dense[next++]! }));
  const bottom = take(model.bottom);
  const ctr = take(model.ctrHead);
  const cvr = take(model.cvrHead);
  const posBias = dense[next++]!;
  const posCross = dense[next++]!;
  const { dim, offsets, vocabSizes } = model.embedding;
  const fields = vocabSizes.length;
  const d = model.numericDim;
  const rows = set.click.length;
  const { maxPosition, crossField } = model.position;

  const apply = (layers: Layer64[], input: number[], reluLast: boolean): number[] => {
    let x = input;
    layers.forEach((l, i) => {
      const y: number[] = [];
      for (let j = 0; j < l.outSize; j++) {
        let s = l.b[j]!;
        for (let k = 0; k < l.inSize; k++) s += x[k]! * l.w[k * l.outSize + j]!;
        y.push(reluLast || i < layers.length - 1 ? Math.max(0, s) : s);
      }
      x = y;
    });
    return x;
  };

  let esmm = 0;
  let penalty = 0;
  for (let r = 0; r < rows; r++) {
    const x: number[] = [];
    for (let c = 0; c < fields; c++) {
      const row = offsets[c]! + set.cat[r * fields + c]!;
      for (let k = 0; k < dim; k++) {
        const e = table[row * dim + k]!;
        x.push(e);
        penalty += (l2 / 2) * e * e;
      }
    }
    if (model.shape.interactions === 'dot') {
      const embedded = x.slice();
      for (let a = 0; a < fields; a++) {
        for (let b = a + 1; b < fields; b++) {
          let dot = 0;
          for (let k = 0; k < dim; k++) dot += embedded[a * dim + k]! * embedded[b * dim + k]!;
          x.push(dot);
        }
      }
    }
    for (let k = 0; k < d; k++) x.push(set.num[r * d + k]!);
    const h = apply(bottom, x, true);
    const bucket = Math.min(Math.max(set.position[r]!, 1), maxPosition) - 1;
    let a = apply(ctr, h, false)[0]! + posBias[bucket]!;
    if (crossField !== null) a += posCross[bucket * vocabSizes[crossField]! + set.cat[r * fields + crossField]!]!;
    const b = apply(cvr, h, false)[0]!;
    const p = 1 / (1 + Math.exp(-a));
    const q = p / (1 + Math.exp(-b));
    // Soft targets (distillation) replace the labels when the set has them.
    const y = set.targets ? set.targets.click[r]! : set.click[r]!;
    const z = set.targets ? set.targets.clickPurchase[r]! : y && set.purchase[r]! ? 1 : 0;
    esmm += -(y * Math.log(p) + (1 - y) * Math.log(1 - p)) - (z * Math.log(q) + (1 - z) * Math.log(1 - q));
  }
  return { esmm: esmm / rows, total: (esmm + penalty) / rows };
}

function parameterNames(model: RankerModel): string[] {
  const names = ['embedding'];
  for (const [tower, layers] of [['bottom', model.bottom], ['ctr', model.ctrHead], ['cvr', model.cvrHead]] as const) {
    layers.forEach((_, l) => names.push(`${tower}${l}.weight`, `${tower}${l}.bias`));
  }
  names.push('position.bias', 'position.cross');
  return names;
}

/** A small model with every parameter group non-trivial (random biases and position tower). */
function smallModel(seed: number, interactions: ModelShape['interactions'] = 'none'): RankerModel {
  const shape: ModelShape = { embeddingDim: 3, hidden: [7, 5], headHidden: [3], maxPosition: 4, positionCrossField: 2, interactions };
  const model = createModel(shape, [5, 4, 3], 4, seed);
  const rng = new Rng(seed + 100);
  for (const layer of [...model.bottom, ...model.ctrHead, ...model.cvrHead]) {
    for (let i = 0; i < layer.bias.length; i++) layer.bias[i] = 0.1 * rng.normal();
  }
  // Bucket 0 (position 1) stays pinned at 0.
  const { bias, cross } = model.position;
  for (let i = 1; i < bias.length; i++) bias[i] = 0.3 * rng.normal();
  for (let i = 3; i < cross.length; i++) cross[i] = 0.3 * rng.normal();
  for (let i = 0; i < model.embedding.table.length; i++) model.embedding.table[i] = 0.5 * rng.normal();
  return model;
}

function smallBatch(model: RankerModel, rows: number, seed: number, softTargets = false): TrainingSet {
  const rng = new Rng(seed);
  const { vocabSizes } = model.embedding;
  const cat = new Int32Array(rows * vocabSizes.length);
  // Cover index 0 and the last index of every field, then random indices.
  for (let r = 0; r < rows; r++) {
    vocabSizes.forEach((v, c) => {
      cat[r * vocabSizes.length + c] = r === 0 ? 0 : r === 1 ? v - 1 : rng.int(v);
    });
  }
  const num = Float32Array.from({ length: rows * model.numericDim }, () => rng.normal());
  const click = Uint8Array.from({ length: rows }, () => (rng.next() < 0.5 ? 1 : 0));
  const purchase = Uint8Array.from(click, (c) => (c && rng.next() < 0.5 ? 1 : 0));
  // Positions 1..7 against maxPosition 4, so the shared last bucket is exercised.
  const position = Int32Array.from({ length: rows }, (_, r) => 1 + (r % 7));
  if (!softTargets) return { cat, num, click, purchase, position, vocabSizes };
  // Targets anywhere in 0 <= click-and-purchase <= click <= 1, ends included.
  const targetClick = Float32Array.from({ length: rows }, (_, r) => (r === 0 ? 0 : r === 1 ? 1 : rng.next()));
  const targetBoth = Float32Array.from(targetClick, (c, r) => (r === 1 ? 1 : c * rng.next()));
  return { cat, num, click, purchase, position, vocabSizes, targets: { click: targetClick, clickPurchase: targetBoth } };
}

describe('gradients', () => {
  // Central differences in float64 (step 1e-6) against the trainer's analytic gradients, which are
  // computed with float32 storage: agreement within 1e-3 relative plus 1e-6 absolute leaves room
  // for float32 rounding and nothing for a wrong formula (a missing term shows up as O(1) relative).
  const RELATIVE = 1e-3;
  const ABSOLUTE = 1e-6;
  const STEP = 1e-6;
  const L2 = 0.05;

  const cases: [KernelBackend, ModelShape['interactions'], 'labels' | 'soft targets'][] = [
    ['simd', 'none', 'labels'],
    ['js', 'none', 'labels'],
    ['simd', 'dot', 'labels'],
    ['js', 'dot', 'labels'],
    ['simd', 'dot', 'soft targets'],
  ];
  for (const [backend, interactions, fitted] of cases) {
    it(`match finite differences for every parameter group (${backend} kernels, ${interactions} interactions, ${fitted})`, () => {
      const model = smallModel(3, interactions);
      const rows = 13; // not a multiple of 4: exercises the kernels' edge paths
      const set = smallBatch(model, rows, 4, fitted === 'soft targets');
      const ws = new Workspace(model, rows, true, backend);
      const grads = new Gradients(model, rows);
      const lossSum = lossAndGradients(model, ws, grads, set, null, 0, rows, L2);
      const analytic = [grads.embedding, ...grads.dense];

      const params64 = allParameters(model).map((p) => Float64Array.from(p));
      const reference = referenceObjective(model, params64, set, L2);
      expect(lossSum / rows).toBeCloseTo(reference.esmm, 5);

      const names = parameterNames(model);
      let worst = 0;
      params64.forEach((values, g) => {
        const name = names[g]!;
        for (let i = 0; i < values.length; i++) {
          const pinned = (name === 'position.bias' && i === 0) || (name === 'position.cross' && i < 3);
          const got = analytic[g]![i]!;
          if (pinned) {
            // The reference bucket never moves: no gradient at all.
            expect(got, `${name}[${i}]`).toBe(0);
            continue;
          }
          const saved = values[i]!;
          values[i] = saved + STEP;
          const up = referenceObjective(model, params64, set, L2).total;
          values[i] = saved - STEP;
          const down = referenceObjective(model, params64, set, L2).total;
          values[i] = saved;
          const numeric = (up - down) / (2 * STEP);
          const error = Math.abs(got - numeric);
          worst = Math.max(worst, error / (ABSOLUTE + RELATIVE * Math.abs(numeric)));
          expect(error, `${name}[${i}]: analytic ${got}, numeric ${numeric}`).toBeLessThanOrEqual(ABSOLUTE + RELATIVE * Math.abs(numeric));
        }
      });
      expect(worst).toBeLessThan(1);
    });
  }
});

describe('kernels', () => {
  it('SIMD kernels equal the JS reference kernels on ragged shapes', () => {
    const rng = new Rng(9);
    for (const [rows, inSize, outSize, inCols] of [[13, 11, 9, 7], [4, 8, 16, 8], [5, 64, 1, 64], [1, 3, 2, 3], [9, 20, 13, 12]] as const) {
      const k = new SimdKernels({ arenaFloats: 4 * rows * (inSize + outSize) + 64, maxWeights: inSize * outSize, maxOut: outSize, maxRows: rows });
      const fill = (a: Float32Array) => {
        for (let i = 0; i < a.length; i++) a[i] = rng.normal();
        return a;
      };
      const x = fill(k.allocate(rows * inSize));
      const dy = fill(k.allocate(rows * outSize));
      const y = k.allocate(rows * outSize);
      const dx = fill(k.allocate(rows * inSize));
      const w = fill(new Float32Array(inSize * outSize));
      const bias = fill(new Float32Array(outSize));
      const y2 = new Float32Array(rows * outSize);
      const dx2 = dx.slice();
      for (const relu of [false, true]) {
        k.denseForward(x, w, bias, y, rows, inSize, outSize, relu);
        jsKernels.denseForward(x, w, bias, y2, rows, inSize, outSize, relu);
        expect(maxAbsDiff(y, y2)).toBeLessThan(1e-5);
      }
      for (const accumulate of [false, true]) {
        k.denseBackwardInput(dy, w, dx, rows, inSize, outSize, inCols, accumulate);
        jsKernels.denseBackwardInput(dy, w, dx2, rows, inSize, outSize, inCols, accumulate);
        expect(maxAbsDiff(dx, dx2)).toBeLessThan(1e-5);
      }
      const [dw, dw2] = [new Float32Array(inSize * outSize), new Float32Array(inSize * outSize)];
      const [db, db2] = [new Float32Array(outSize), new Float32Array(outSize)];
      k.denseBackwardParams(x, dy, dw, db, rows, inSize, outSize);
      jsKernels.denseBackwardParams(x, dy, dw2, db2, rows, inSize, outSize);
      expect(maxAbsDiff(dw, dw2)).toBeLessThan(1e-5);
      expect(maxAbsDiff(db, db2)).toBeLessThan(1e-5);
    }
  });
});

describe('metrics', () => {
  it('AUC counts ties as one half and matches the pairwise definition', () => {
    expect(auc([0.5, 0.5], [1, 0])).toBe(0.5);
    expect(auc([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1])).toBe(1);
    expect(auc([0.4, 0.3, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
    expect(auc([0.1, 0.9], [1, 1])).toBeNaN();
    const rng = new Rng(5);
    const scores = Array.from({ length: 300 }, () => Math.round(rng.next() * 10) / 10); // many ties
    const labels = scores.map((s) => (rng.next() < s ? 1 : 0));
    let wins = 0;
    let pairs = 0;
    for (let i = 0; i < scores.length; i++) {
      for (let j = 0; j < scores.length; j++) {
        if (labels[i] === 1 && labels[j] === 0) {
          pairs++;
          wins += scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0;
        }
      }
    }
    expect(auc(scores, labels)).toBeCloseTo(wins / pairs, 12);
    const mask = labels.map((_, i) => (i % 2 === 0 ? 1 : 0));
    const even = (a: number[]) => a.filter((_, i) => i % 2 === 0);
    expect(auc(scores, labels, mask)).toBeCloseTo(auc(even(scores), even(labels)), 12);
  });

  it('logloss and calibration', () => {
    expect(logloss([0.5, 0.5], [1, 0])).toBeCloseTo(Math.log(2), 12);
    expect(logloss([0.9, 0.2], [1, 0])).toBeCloseTo(-(Math.log(0.9) + Math.log(0.8)) / 2, 12);
    expect(Number.isFinite(logloss([0, 1], [1, 0]))).toBe(true);
    expect(calibration([0.2, 0.2, 0.2, 0.2], [1, 0, 0, 0])).toBeCloseTo(0.8, 12);
  });
});

// ---------------------------------------------------------------------------------------------
// Training on synthetic data with a known signal.
// ---------------------------------------------------------------------------------------------

const VOCAB = [60, 25, 8, 3];
const SHAPE = { embeddingDim: 6, hidden: [32, 16], maxPosition: 10 };

describe('training', () => {
  const data = generateSynthetic({ rows: 24_000, vocabSizes: VOCAB, numericDim: 5, seed: 11, maxPosition: 10, positionEffect: 0.6 });

  it('lowers the ESMM loss, beats a constant model and ranks well above chance', () => {
    const lines: string[] = [];
    let progressCalls = 0;
    const result = train(data.set, {
      shape: SHAPE,
      epochs: 4,
      seed: 1,
      log: (line) => lines.push(line),
      onProgress: () => progressCalls++,
      progressEvery: 5,
    });
    const losses = result.history.map((e) => e.trainLoss);
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]!);
    // The constant model: base rates for pCTR and pCTCVR.
    const validation = sliceRows(data.set, 21_600, 24_000);
    const n = validation.click.length;
    const ctr = validation.click.reduce((s, v) => s + v, 0) / n;
    const ctcvr = validation.purchase.reduce((s, v) => s + v, 0) / n;
    const constantLoss = -(ctr * Math.log(ctr) + (1 - ctr) * Math.log(1 - ctr)) - (ctcvr * Math.log(ctcvr) + (1 - ctcvr) * Math.log(1 - ctcvr));
    expect(result.validation!.loss).toBeLessThan(constantLoss - 0.02);
    expect(result.validation!.ctrAuc).toBeGreaterThan(0.7);
    expect(result.validation!.cvrAuc).toBeGreaterThan(0.6);
    expect(result.validation!.ctcvrAuc).toBeGreaterThan(0.7);
    // The oracle (true position-free CTR) bounds what any model can reach.
    const oracle = auc(data.trueCtr.subarray(21_600), validation.click);
    expect(result.validation!.ctrAuc).toBeLessThan(oracle + 0.01);
    // One log line per epoch with the throughput and validation metrics; progress reported.
    expect(lines.filter((l) => l.startsWith('epoch')).length).toBe(result.history.length);
    expect(lines[0]).toMatch(/rows\/s.*train loss.*val loss.*ctr auc.*cvr auc/);
    expect(progressCalls).toBeGreaterThan(result.history.length);
  });

  it('learns the position bias in the tower, with position 1 as the reference', () => {
    const { model } = train(data.set, { shape: SHAPE, epochs: 3, batchSize: 256, seed: 1, log: null });
    const bias = Array.from(model.position.bias);
    expect(bias[0]).toBe(0);
    // Truth: logit drop of 0.6 * ln(position).
    expect(bias[9]!).toBeLessThan(-0.8);
    expect(bias[9]!).toBeGreaterThan(-2.0);
    expect(bias[9]!).toBeLessThan(bias[1]!);
    expect(bias[1]!).toBeLessThan(0);
  });

  it('is reproducible: the same seed gives the same weights bit for bit', () => {
    const subset = sliceRows(data.set, 0, 6_000);
    const options = { shape: SHAPE, epochs: 2, seed: 42, log: null } as const;
    const a = allParameters(train(subset, options).model);
    const b = allParameters(train(subset, options).model);
    const c = allParameters(train(subset, { ...options, seed: 43 }).model);
    a.forEach((values, i) => expect(Buffer.from(values.buffer).equals(Buffer.from(b[i]!.buffer))).toBe(true));
    expect(a.some((values, i) => !Buffer.from(values.buffer).equals(Buffer.from(c[i]!.buffer)))).toBe(true);
  });

  it('stops early and keeps the weights of the best validation epoch', () => {
    // Few rows and a large vocabulary overfit within a few epochs.
    const small = generateSynthetic({ rows: 3_000, vocabSizes: [400, 400, 400], numericDim: 2, seed: 5 });
    const validation = generateSynthetic({ rows: 3_000, vocabSizes: [400, 400, 400], numericDim: 2, seed: 6 }).set;
    const result = train(small.set, {
      shape: { embeddingDim: 8, hidden: [32] },
      validation,
      epochs: 30,
      patience: 2,
      learningRate: 1e-2,
      seed: 1,
      log: null,
    });
    const losses = result.history.map((e) => e.validation!.loss);
    expect(result.history.length).toBeLessThan(30); // stopped early
    expect(result.bestEpoch).toBe(result.history.length - 2); // patience 2 after the best
    expect(losses[result.bestEpoch - 1]).toBe(Math.min(...losses));
    // The returned model is the best epoch's, not the last one's.
    // (12 digits: evaluate() sums the loss in different chunks than the trainer did.)
    expect(evaluate(result.model, validation).loss).toBeCloseTo(losses[result.bestEpoch - 1]!, 12);
    expect(result.validation!.loss).toBe(losses[result.bestEpoch - 1]);
  });

  it('predict scores rows as if shown at position 1 (no tower)', () => {
    const { model } = train(sliceRows(data.set, 0, 4_000), { shape: SHAPE, epochs: 1, seed: 1, log: null });
    const rows = sliceRows(data.set, 4_000, 4_100);
    const { pCtr, pCvr } = predict(model, rows.cat, rows.num);
    // Same rows at position 1 through the training path: identical CTR logits, hence probabilities.
    const ws = new Workspace(model, 100, false);
    const atTop = { ...rows, position: new Int32Array(100).fill(1) };
    const evaluation = evaluate(model, atTop, ws);
    expect(Number.isFinite(evaluation.loss)).toBe(true);
    for (let r = 0; r < 100; r++) {
      expect(ws.ctrLogitWithPosition[r]).toBe(ws.ctrLogit[r]);
      expect(pCtr[r]).toBeCloseTo(1 / (1 + Math.exp(-ws.ctrLogit[r]!)), 6);
      expect(pCvr[r]).toBeCloseTo(1 / (1 + Math.exp(-ws.cvrLogit[r]!)), 6);
    }
    expect(() => predict(model, new Int32Array([0, 0, 0, 3]), new Float32Array(5))).toThrow(/field 3/);
  });

  it('rejects inconsistent data with a message naming the problem', () => {
    const bad = { ...sliceRows(data.set, 0, 10), purchase: new Uint8Array(10).fill(1), click: new Uint8Array(10) };
    expect(() => train(bad, { log: null })).toThrow(/purchase without click/);
  });
});
