// Offline evaluation on the synthetic world, where the ground truth is known: every ranking policy
// is scored on the same held-out slates by
//  - expected CTR AUC at position 1 (against the true position-free click probability: the logged
//    clicks are confounded with the logged positions, which favours whatever the logging policy
//    favoured);
//  - CTR AUC against the logged clicks, CVR AUC over clicked rows, NDCG@10 on logged labels;
//  - expected clicks, purchases and revenue per slate if the slate had been served in the
//    policy's order (position bias included).
import type { LabelledSlate } from '../dataset/slates.ts';
import { auc } from '../train/metrics.ts';
import type { World } from '../world/index.ts';
import { rowsOf } from './offline-eval.ts';
import { expectedAuc } from './probabilistic-metrics.ts';
import { bootstrapMeanCI, ndcgAtK, randomNdcgAtK, slateRelevance, type Interval } from './ranking-metrics.ts';
import { expectedOutcome, orderBy, slateTruth, type SlateTruth } from './world-oracle.ts';

/** One ranking policy's scores for every row of the evaluated slates (slate order, rows concatenated). */
export interface Policy {
  name: string;
  /** what the policy believes P(click at top) is, or any score monotone in it (for AUC) */
  ctrScore: ArrayLike<number>;
  /** what it orders a slate by */
  rankScore: ArrayLike<number>;
  /** its P(purchase | click), if it has one (for CVR AUC) */
  cvrScore?: ArrayLike<number>;
}

export interface PolicyMetrics {
  ctr_auc_expected: number;
  ctr_auc_logged: number;
  cvr_auc_logged: number | null;
  ndcg10: number;
  ndcg10_ci95: [number, number];
  clicks_per_slate: number;
  revenue_per_slate: number;
  revenue_per_slate_ci95: [number, number];
}

export interface WorldEvaluation {
  slates: number;
  rows: number;
  policies: Record<string, PolicyMetrics>;
  truth: {
    pClickTop: Float64Array;
    pPurchaseGivenClick: Float64Array;
    /** the oracle's ranking value per row: true P(click at the top) x P(purchase | click) x price */
    oracleValue: Float64Array;
    revenuePerSlate: Record<string, Float64Array>;
  };
}

const ci = (i: Interval): [number, number] => [i.lo, i.hi];

/**
 * The policy that scores with a ground truth (the world's: the oracle; another one: a ceiling):
 * P(click at the top), P(purchase | click), and the order by their product with the price.
 */
export function truthPolicy(name: string, truths: readonly SlateTruth[]): Policy & { ctrScore: Float64Array; rankScore: Float64Array; cvrScore: Float64Array } {
  const rows = truths.reduce((n, t) => n + t.price.length, 0);
  const ctrScore = new Float64Array(rows);
  const cvrScore = new Float64Array(rows);
  const rankScore = new Float64Array(rows);
  let offset = 0;
  for (const t of truths) {
    ctrScore.set(t.pClickTop, offset);
    cvrScore.set(t.pPurchaseGivenClick, offset);
    for (let i = 0; i < t.price.length; i++) rankScore[offset + i] = t.pClickTop[i]! * t.pPurchaseGivenClick[i]! * t.price[i]!;
    offset += t.price.length;
  }
  return { name, ctrScore, rankScore, cvrScore };
}

export function evaluateOnWorld(world: World, slates: readonly LabelledSlate[], policies: readonly Policy[]): WorldEvaluation {
  const truths: SlateTruth[] = slates.map((s) => slateTruth(world, s));
  const oracle = truthPolicy('oracle', truths);
  const { ctrScore: pTop, cvrScore: pBuy, rankScore: oracleValue } = oracle;
  const rows = pTop.length;
  const { click: clicks, purchase: purchases } = rowsOf(slates);
  const all: Policy[] = [...policies, oracle];

  const result: Record<string, PolicyMetrics> = {};
  const revenueBySlate: Record<string, Float64Array> = {};
  for (const policy of all) {
    if (policy.ctrScore.length !== rows || policy.rankScore.length !== rows) throw new Error(`policy ${policy.name} scores ${policy.ctrScore.length} rows, expected ${rows}`);
    const ndcg = new Float64Array(slates.length);
    const revenue = new Float64Array(slates.length);
    let clickSum = 0;
    let offset = 0;
    slates.forEach((s, j) => {
      const n = s.items.length;
      const rank = Array.prototype.slice.call(policy.rankScore, offset, offset + n) as number[];
      const outcome = expectedOutcome(world, truths[j]!, orderBy(rank));
      revenue[j] = outcome.revenue;
      clickSum += outcome.clicks;
      ndcg[j] = ndcgAtK(rank, slateRelevance(s), 10);
      offset += n;
    });
    revenueBySlate[policy.name] = revenue;
    const ndcgCi = bootstrapMeanCI(ndcg);
    const revCi = bootstrapMeanCI(revenue);
    result[policy.name] = {
      ctr_auc_expected: expectedAuc(policy.ctrScore, pTop),
      ctr_auc_logged: auc(policy.ctrScore, clicks),
      cvr_auc_logged: policy.cvrScore ? auc(policy.cvrScore, purchases, clicks) : null,
      ndcg10: ndcgCi.mean,
      ndcg10_ci95: ci(ndcgCi),
      clicks_per_slate: clickSum / slates.length,
      revenue_per_slate: revCi.mean,
      revenue_per_slate_ci95: ci(revCi),
    };
  }

  // Random order, exactly: every position is equally likely for every item.
  const randomRevenue = new Float64Array(slates.length);
  let randomClicks = 0;
  const randomNdcg = new Float64Array(slates.length);
  slates.forEach((s, j) => {
    const t = truths[j]!;
    const n = s.items.length;
    let meanExam = 0;
    for (let k = 1; k <= n; k++) meanExam += world.examination(k) / n;
    let value = 0;
    let attract = 0;
    for (let i = 0; i < n; i++) {
      value += t.pClickTop[i]! * t.pPurchaseGivenClick[i]! * t.price[i]!;
      attract += t.pClickTop[i]!;
    }
    randomRevenue[j] = meanExam * value;
    randomClicks += meanExam * attract;
    randomNdcg[j] = randomNdcgAtK(slateRelevance(s), 10);
  });
  const rr = bootstrapMeanCI(randomRevenue);
  const rn = bootstrapMeanCI(randomNdcg);
  revenueBySlate.random = randomRevenue;
  result.random = {
    ctr_auc_expected: 0.5,
    ctr_auc_logged: 0.5,
    cvr_auc_logged: 0.5,
    ndcg10: rn.mean,
    ndcg10_ci95: ci(rn),
    clicks_per_slate: randomClicks / slates.length,
    revenue_per_slate: rr.mean,
    revenue_per_slate_ci95: ci(rr),
  };
  return { slates: slates.length, rows, policies: result, truth: { pClickTop: pTop, pPurchaseGivenClick: pBuy, oracleValue, revenuePerSlate: revenueBySlate } };
}

/** (metric(model) - metric(baseline)) / (metric(oracle) - metric(baseline)) */
export function gapClosed(model: number, baseline: number, oracle: number): number {
  return (model - baseline) / (oracle - baseline);
}
