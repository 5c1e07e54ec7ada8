import { describe, expect, it } from 'vitest';
import { sliceRows } from '../../model/train/dataset.ts';
import { teacherTargets, trainDistilled } from '../../model/train/distill.ts';
import { esmmLoss, sigmoid, softEsmmLoss } from '../../model/train/loss.ts';
import { allParameters } from '../../model/train/model.ts';
import { expectedAuc } from '../../model/eval/probabilistic-metrics.ts';
import { loggedLogits, predict } from '../../model/train/predict.ts';
import { Rng } from '../../model/train/random.ts';
import { generateSynthetic } from '../../model/train/synthetic.ts';
import { train } from '../../model/train/trainer.ts';

const SHAPE = { embeddingDim: 6, hidden: [24], maxPosition: 10, interactions: 'dot' as const };

describe('soft-target ESMM loss', () => {
  it('equals the label loss, value and gradients, when the targets are 0 or 1', () => {
    const rng = new Rng(7);
    const rows = 64;
    const a = Float32Array.from({ length: rows }, () => 4 * rng.normal());
    const b = Float32Array.from({ length: rows }, () => 4 * rng.normal());
    const click = Uint8Array.from({ length: rows }, (_, r) => r % 2);
    const purchase = Uint8Array.from(click, (c, r) => (c && r % 3 === 0 ? 1 : 0));
    const [dA, dB, sA, sB] = [0, 0, 0, 0].map(() => new Float32Array(rows)) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const hard = esmmLoss(a, b, click, purchase, rows, dA, dB);
    const soft = softEsmmLoss(a, b, Float32Array.from(click), Float32Array.from(purchase), rows, sA, sB);
    expect(soft).toBeCloseTo(hard, 9);
    for (let r = 0; r < rows; r++) {
      expect(sA[r]).toBeCloseTo(dA[r]!, 9);
      expect(sB[r]).toBeCloseTo(dB[r]!, 9);
    }
  });

  it('is smallest where the predictions equal the targets', () => {
    // Gradient zero at p = y and p * r = t: the targets are the loss's fixed point.
    const y = 0.3;
    const t = 0.12;
    const logit = (p: number) => Math.log(p / (1 - p));
    const a = new Float32Array([logit(y)]);
    const b = new Float32Array([logit(t / y)]);
    const dA = new Float32Array(1);
    const dB = new Float32Array(1);
    softEsmmLoss(a, b, new Float32Array([y]), new Float32Array([t]), 1, dA, dB);
    expect(Math.abs(dA[0]!)).toBeLessThan(1e-6);
    expect(Math.abs(dB[0]!)).toBeLessThan(1e-6);
  });
});

describe('distillation', () => {
  // A large first field over few rows: each network's per-value estimates are noisy, the regime
  // where averaging seeds pays (as for item ids on a million impressions).
  const data = generateSynthetic({ rows: 30_000, vocabSizes: [2_000, 40, 8], numericDim: 4, seed: 21, maxPosition: 10, positionEffect: 0.5 });
  const fit = sliceRows(data.set, 0, 24_000);
  const validation = sliceRows(data.set, 24_000, 27_000);
  const test = sliceRows(data.set, 27_000, 30_000);
  const trueCtr = data.trueCtr.subarray(27_000, 30_000);
  const options = { shape: SHAPE, epochs: 15, seed: 1, validation, log: null } as const;

  it('targets are the teachers\' mean logits at the logged position, mixed with the labels by weight', () => {
    const teachers = [1, 2].map((seed) => train(sliceRows(fit, 0, 6_000), { ...options, seed, epochs: 1 }).model);
    const rows = sliceRows(fit, 6_000, 6_200);
    const logits = teachers.map((t) => loggedLogits(t, rows));
    const soft = teacherTargets(teachers, rows, 0);
    const mixed = teacherTargets(teachers, rows, 0.25);
    for (let i = 0; i < 200; i++) {
      const pClick = sigmoid((logits[0]!.ctr[i]! + logits[1]!.ctr[i]!) / 2);
      const pBuy = sigmoid((logits[0]!.cvr[i]! + logits[1]!.cvr[i]!) / 2);
      expect(soft.click[i]).toBeCloseTo(pClick, 6);
      expect(soft.clickPurchase[i]).toBeCloseTo(pClick * pBuy, 6);
      expect(mixed.click[i]).toBeCloseTo(0.25 * rows.click[i]! + 0.75 * pClick, 6);
      expect(mixed.clickPurchase[i]).toBeCloseTo(0.25 * (rows.click[i]! & rows.purchase[i]!) + 0.75 * pClick * pBuy, 6);
      expect(mixed.clickPurchase[i]).toBeLessThanOrEqual(mixed.click[i]!);
    }
    // The position tower is in the targets: the same rows shown lower get a lower click target.
    const lower = teacherTargets(teachers, { ...rows, position: rows.position.map(() => 10) }, 0);
    const top = teacherTargets(teachers, { ...rows, position: rows.position.map(() => 1) }, 0);
    for (let i = 0; i < 200; i++) expect(lower.click[i]).toBeLessThan(top.click[i]!);
    expect(() => teacherTargets([], rows, 0)).toThrow(/at least one teacher/);
    expect(() => teacherTargets(teachers, rows, 1.5)).toThrow(/hardLabelWeight/);
  });

  it('a student of four teachers ranks closer to the truth than the teachers on average, in one network of their shape', () => {
    const { student, teachers } = trainDistilled(fit, options, { teachers: 4, hardLabelWeight: 0 });
    expect(teachers).toHaveLength(4);
    // Teachers differ by seed only: seed + 1 .. seed + 4.
    const again = train(fit, { ...options, seed: 3 });
    allParameters(again.model).forEach((values, i) => expect(Array.from(values)).toEqual(Array.from(allParameters(teachers[1]!.model)[i]!)));
    const truthAuc = (scores: Float32Array) => expectedAuc(scores, trueCtr);
    const teacherAucs = teachers.map((t) => truthAuc(predict(t.model, test.cat, test.num).pCtr));
    const studentAuc = truthAuc(predict(student.model, test.cat, test.num).pCtr);
    const meanTeacher = teacherAucs.reduce((s, x) => s + x, 0) / teacherAucs.length;
    expect(studentAuc).toBeGreaterThan(meanTeacher);
    expect(student.model.shape).toEqual(teachers[0]!.model.shape);
    // Early stopping watched the validation rows' logged labels, as for any network.
    expect(student.validation!.rows).toBe(3_000);
  });

  it('without teachers is plain training, bit for bit', () => {
    const subset = sliceRows(fit, 0, 5_000);
    const plain = train(subset, { ...options, epochs: 1 });
    const { student, teachers } = trainDistilled(subset, { ...options, epochs: 1 }, { teachers: 0, hardLabelWeight: 0 });
    expect(teachers).toHaveLength(0);
    allParameters(student.model).forEach((values, i) => expect(Buffer.from(values.buffer).equals(Buffer.from(allParameters(plain.model)[i]!.buffer))).toBe(true));
  });

  it('rejects soft targets that are not probabilities, naming the row', () => {
    const rows = sliceRows(fit, 0, 10);
    const click = new Float32Array(10).fill(0.2);
    const clickPurchase = new Float32Array(10).fill(0.1);
    clickPurchase[4] = 0.3;
    expect(() => train({ ...rows, targets: { click, clickPurchase } }, { ...options, log: null })).toThrow(/row 4: soft targets/);
    expect(() => train({ ...rows, targets: { click: new Float32Array(9), clickPurchase } }, { ...options, log: null })).toThrow(/targets have 9/);
    expect(() => trainDistilled(rows, options, { teachers: -1, hardLabelWeight: 0 })).toThrow(/teachers must be/);
  });
});
