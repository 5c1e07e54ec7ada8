// The evaluation's arithmetic on hand examples: reliability curves and ECE (equal-mass bins, labels
// or true probabilities, masks), gap_closed, the popularity prior, label metrics of the baselines.
import { describe, expect, it } from 'vitest';
import type { LabelledSlate } from '../../model/dataset/slates.ts';
import {
  baselinePolicies,
  itemPopularity,
  labelMetrics,
  loggedOrderScores,
  rowsOf,
  servedScores,
  slateRows,
} from '../../model/eval/offline-eval.ts';
import { reliability } from '../../model/eval/probabilistic-metrics.ts';
import { ndcgAtK, randomNdcgAtK } from '../../model/eval/ranking-metrics.ts';
import { gapClosed } from '../../model/eval/world-eval.ts';
import { popularityPrior } from '../../model/pipeline/train-dataset.ts';
import type { DatasetSlate } from '../../model/data/read-dataset.ts';

function slate(requestId: string, ids: string[], clicks: number[], purchases: number[], prices?: number[]): LabelledSlate {
  return {
    requestId,
    ts: 0,
    userId: 'u1',
    context: {},
    items: ids.map((id, i) => ({ id, inline: prices ? { price: prices[i]! } : undefined })),
    positions: Int32Array.from(ids, (_, i) => i + 1),
    clicks: Uint8Array.from(clicks),
    purchases: Uint8Array.from(purchases),
  };
}

describe('reliability and ECE', () => {
  it('equal-mass bins over labels', () => {
    // Sorted by prediction, two bins of two rows each.
    const r = reliability([0.9, 0.1, 0.2, 0.8], [1, 0, 1, 0], 2);
    expect(r.bins).toHaveLength(2);
    expect(r.bins[0]).toMatchObject({ count: 2, lo: 0.1, hi: 0.2 });
    expect(r.bins[0]!.meanPredicted).toBeCloseTo(0.15, 12);
    expect(r.bins[0]!.meanObserved).toBeCloseTo(0.5, 12);
    expect(r.bins[1]!.meanPredicted).toBeCloseTo(0.85, 12);
    expect(r.bins[1]!.meanObserved).toBeCloseTo(0.5, 12);
    // ECE = 1/2 |0.15 - 0.5| + 1/2 |0.85 - 0.5|
    expect(r.ece).toBeCloseTo(0.35, 12);
  });

  it('is 0 for a perfect prediction of true probabilities, and the mean gap for a constant shift', () => {
    const truth = [0.05, 0.1, 0.2, 0.3, 0.4, 0.6];
    expect(reliability(truth, truth, 3).ece).toBe(0);
    const shifted = truth.map((p) => p + 0.02);
    expect(reliability(shifted, truth, 3).ece).toBeCloseTo(0.02, 12);
    // one bin: only the overall mean counts
    expect(reliability([0.2, 0.4], [0, 1], 1).ece).toBeCloseTo(0.2, 12);
  });

  it('a mask restricts the rows (CVR over clicked rows)', () => {
    const r = reliability([0.5, 0.9, 0.1, 0.3], [1, 0, 0, 1], 1, [1, 0, 0, 1]);
    expect(r.bins).toEqual([{ lo: 0.3, hi: 0.5, count: 2, meanPredicted: 0.4, meanObserved: 1 }]);
    expect(r.ece).toBeCloseTo(0.6, 12);
  });
});

describe('gap_closed', () => {
  it('is (model - baseline) / (oracle - baseline)', () => {
    expect(gapClosed(0.7, 0.6, 0.8)).toBeCloseTo(0.5, 12);
    expect(gapClosed(0.6, 0.6, 0.8)).toBe(0);
    expect(gapClosed(0.8, 0.6, 0.8)).toBe(1);
    expect(gapClosed(0.55, 0.6, 0.8)).toBeCloseTo(-0.25, 12);
    // revenue per slate: 11.9 with popularity at 11.4 and the oracle at 14.9
    expect(gapClosed(11.9, 11.4, 14.9)).toBeCloseTo(0.5 / 3.5, 12);
  });
});

describe('item popularity', () => {
  const train = [slate('r1', ['a', 'b', 'c'], [1, 0, 0], [1, 0, 0]), slate('r2', ['a', 'b'], [1, 1], [0, 0])];

  it('smooths CTR as train-dataset\'s popularityPrior does, and CVR per click', () => {
    const pop = itemPopularity(slateRows(train));
    const prior = popularityPrior(train as unknown as DatasetSlate[]);
    for (const id of ['a', 'b', 'c', 'never-seen']) expect(pop.ctr(id)).toBeCloseTo(prior(id), 15);
    expect(pop.baseCtr).toBeCloseTo(3 / 5, 15);
    expect(pop.baseCvr).toBeCloseTo(1 / 3, 15);
    // a: 2 clicks in 2 shows; 1 purchase in 2 clicks
    expect(pop.ctr('a')).toBeCloseTo((2 + 20 * 0.6) / (2 + 20), 15);
    expect(pop.cvr('a')).toBeCloseTo((1 + 20 / 3) / (2 + 20), 15);
    expect(pop.cvr('never-seen')).toBeCloseTo(1 / 3, 15);
  });
});

describe('label metrics of the baselines', () => {
  const held = [slate('h1', ['c', 'a', 'b'], [0, 1, 0], [0, 1, 0], [10, 20, 30]), slate('h2', ['b', 'a'], [1, 0], [0, 0], [5, 6]), slate('h3', ['a', 'c'], [0, 0], [0, 0], [1, 2])];
  const pop = itemPopularity(slateRows([slate('r1', ['a', 'b', 'c'], [1, 0, 0], [1, 0, 0]), slate('r2', ['a', 'b'], [1, 1], [0, 0])]));
  const rows = rowsOf(held);
  const { results } = labelMetrics(held, rows, baselinePolicies(held, pop, 'the test window'), { bootstrapSamples: 200 });
  const byName = Object.fromEntries(results.map((r) => [r.name, r]));

  it('random is the exact expectation and AUC one half', () => {
    const expected = (randomNdcgAtK([0, 5, 0], 10) + randomNdcgAtK([1, 0], 10)) / 2; // h3 has no relevant item
    expect(byName.random!.ndcg.mean).toBeCloseTo(expected, 12);
    expect(byName.random!.ndcg.n).toBe(2);
    expect(byName.random!.ctr.auc).toBe(0.5);
    expect(byName.random!.cvr.auc).toBe(0.5);
  });

  it('the logged order ranks by position and has no probabilities', () => {
    expect(Array.from(loggedOrderScores(held))).toEqual([-1, -2, -3, -1, -2, -1, -2]);
    const expected = (ndcgAtK([3, 2, 1], [0, 5, 0], 10) + ndcgAtK([2, 1], [1, 0], 10)) / 2;
    expect(byName.logged!.ndcg.mean).toBeCloseTo(expected, 12);
    expect(byName.logged!.ctr.logloss).toBeNull();
    expect(byName.logged!.ctr.ece).toBeNull();
    expect(byName.logged!.cvr.auc).toBeNull();
  });

  it('popularity ranks by its smoothed CTR', () => {
    const scores = held.map((s) => s.items.map((item) => pop.ctr(item.id)));
    const expected = (ndcgAtK(scores[0]!, [0, 5, 0], 10) + ndcgAtK(scores[1]!, [1, 0], 10)) / 2;
    expect(byName.popularity!.ndcg.mean).toBeCloseTo(expected, 12);
    expect(byName.popularity!.ctr.logloss).toBeGreaterThan(0);
  });

  it('served scores follow the objective with the inline price', () => {
    const pCtr = Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]);
    const pCvr = Float32Array.from([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    const s = servedScores(held, pCtr, pCvr, { kind: 'expected_revenue', price_exponent: 1 });
    expect(s[0]).toBeCloseTo(0.1 * 0.5 * 10, 6);
    expect(s[6]).toBeCloseTo(0.7 * 0.5 * 2, 6);
    expect(Array.from(servedScores(held, pCtr, pCvr, { kind: 'ctr' }))).toEqual(Array.from(pCtr));
  });
});
