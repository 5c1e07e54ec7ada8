// Metrics against known probabilities instead of drawn labels (possible only where the ground truth
// is known, i.e. the synthetic world) and calibration against labels.

/**
 * Expected ROC AUC when each row's label is Bernoulli(p[i]): every row is a positive with weight
 * p and a negative with weight 1 - p; pairs of distinct rows count, ties one half. Noise-free, so
 * small differences between rankers are real; with 0/1 p it equals the ordinary AUC.
 */
export function expectedAuc(scores: ArrayLike<number>, p: ArrayLike<number>): number {
  const n = scores.length;
  if (p.length !== n) throw new Error(`scores has ${n} values, p ${p.length}`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let negBelow = 0; // negative weight of rows with a strictly lower score
  let wins = 0;
  let selfPairs = 0; // p(1-p) of each row paired with itself: not a pair, removed below
  let totalPos = 0;
  let totalNeg = 0;
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && scores[order[end]!] === scores[order[start]!]) end++;
    let pos = 0;
    let neg = 0;
    for (let i = start; i < end; i++) {
      const q = p[order[i]!]!;
      pos += q;
      neg += 1 - q;
      selfPairs += q * (1 - q);
    }
    wins += pos * negBelow + 0.5 * pos * neg;
    negBelow += neg;
    totalPos += pos;
    totalNeg += neg;
    start = end;
  }
  // A row is never paired with itself: its p(1-p) sat in the tie term with weight 1/2.
  wins -= 0.5 * selfPairs;
  const pairs = totalPos * totalNeg - selfPairs;
  return pairs > 0 ? wins / pairs : Number.NaN;
}

export interface ReliabilityBin {
  /** bin bounds on the predicted probability */
  lo: number;
  hi: number;
  count: number;
  meanPredicted: number;
  /** observed rate (or mean true probability) in the bin */
  meanObserved: number;
}

export interface Reliability {
  bins: ReliabilityBin[];
  /** expected calibration error: sum over bins of count/N * |meanPredicted - meanObserved| */
  ece: number;
}

/**
 * Reliability curve with equal-mass bins (quantiles of the prediction, so sparse high-probability
 * tails still get a bin). `observed` is a 0/1 label or a true probability per row.
 */
export function reliability(predicted: ArrayLike<number>, observed: ArrayLike<number>, binCount = 10, mask?: ArrayLike<number>): Reliability {
  const rows: number[] = [];
  for (let i = 0; i < predicted.length; i++) if (!mask || mask[i]) rows.push(i);
  rows.sort((a, b) => predicted[a]! - predicted[b]!);
  const bins: ReliabilityBin[] = [];
  let ece = 0;
  const n = rows.length;
  for (let b = 0; b < binCount; b++) {
    const start = Math.floor((b * n) / binCount);
    const end = Math.floor(((b + 1) * n) / binCount);
    if (end <= start) continue;
    let sp = 0;
    let so = 0;
    for (let i = start; i < end; i++) {
      sp += predicted[rows[i]!]!;
      so += observed[rows[i]!]!;
    }
    const count = end - start;
    const bin = { lo: predicted[rows[start]!]!, hi: predicted[rows[end - 1]!]!, count, meanPredicted: sp / count, meanObserved: so / count };
    bins.push(bin);
    ece += (count / n) * Math.abs(bin.meanPredicted - bin.meanObserved);
  }
  return { bins, ece: n > 0 ? ece : Number.NaN };
}
