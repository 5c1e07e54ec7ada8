// Turns model probabilities into the score the slate is ordered by. Objectives are data (validated
// in the manifest or config), never code evaluated at request time.
import type { Objective } from '../../model/features/manifest.ts';

/**
 * Scores every row. `prices` may hold NaN for items without a known price: they get the median of
 * the slate's known prices, so a missing price neither wins nor loses by itself.
 */
export function objectiveScores(objective: Objective, pCtr: Float32Array, pCvr: Float32Array, prices: Float64Array): Float64Array {
  const n = pCtr.length;
  const scores = new Float64Array(n);
  switch (objective.kind) {
    case 'ctr':
      for (let i = 0; i < n; i++) scores[i] = pCtr[i]!;
      return scores;
    case 'ctcvr':
      for (let i = 0; i < n; i++) scores[i] = pCtr[i]! * pCvr[i]!;
      return scores;
    case 'expected_revenue': {
      // The median is only needed when a price is missing (most slates carry every price).
      let fill = Number.NaN;
      const a = objective.price_exponent;
      for (let i = 0; i < n; i++) {
        let price = prices[i]!;
        if (!Number.isFinite(price)) {
          if (Number.isNaN(fill)) fill = medianKnown(prices);
          price = fill;
        }
        scores[i] = pCtr[i]! * pCvr[i]! * Math.pow(price, a);
      }
      return scores;
    }
  }
}

function medianKnown(values: Float64Array): number {
  const known = values.filter((v) => Number.isFinite(v)).sort(); // a typed array sorts numerically
  if (known.length === 0) return 1;
  const mid = known.length >> 1;
  return known.length % 2 ? known[mid]! : (known[mid - 1]! + known[mid]!) / 2;
}

/** Row indices by descending score; ties keep request order. */
export function orderByScore(scores: Float64Array): number[] {
  const n = scores.length;
  const order: number[] = new Array<number>(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => scores[b]! - scores[a]! || a - b);
  return order;
}
