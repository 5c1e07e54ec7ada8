// Offline metrics shared by the trainer, the exporters' checks and evaluation scripts. Labels are
// 0/1 (any non-zero counts as 1); an optional mask restricts a metric to a subset of rows (e.g. CVR
// AUC over clicked impressions).

type Scores = ArrayLike<number>;
type Labels = ArrayLike<number>;

/**
 * ROC AUC: the probability that a random positive scores above a random negative, ties counted as
 * one half (the Mann-Whitney statistic). NaN when either class is empty. O(N log N) via two native
 * typed-array sorts and one merge, so a million rows take well under a second.
 */
export function auc(scores: Scores, labels: Labels, mask?: ArrayLike<number>): number {
  let positives = 0;
  let negatives = 0;
  for (let i = 0; i < labels.length; i++) {
    if (mask && !mask[i]) continue;
    if (labels[i]) positives++;
    else negatives++;
  }
  if (positives === 0 || negatives === 0) return NaN;
  const pos = new Float64Array(positives);
  const neg = new Float64Array(negatives);
  let p = 0;
  let n = 0;
  for (let i = 0; i < labels.length; i++) {
    if (mask && !mask[i]) continue;
    if (labels[i]) pos[p++] = scores[i]!;
    else neg[n++] = scores[i]!;
  }
  pos.sort();
  neg.sort();
  // For each positive (ascending), count negatives strictly below it and equal to it.
  let below = 0;
  let belowOrEqual = 0;
  let wins = 0;
  for (let i = 0; i < positives; i++) {
    const s = pos[i]!;
    while (below < negatives && neg[below]! < s) below++;
    if (belowOrEqual < below) belowOrEqual = below;
    while (belowOrEqual < negatives && neg[belowOrEqual]! <= s) belowOrEqual++;
    wins += below + 0.5 * (belowOrEqual - below);
  }
  return wins / (positives * negatives);
}

/** Mean binary cross-entropy, with probabilities clipped to [eps, 1 - eps]. */
export function logloss(probabilities: Scores, labels: Labels, mask?: ArrayLike<number>, eps = 1e-7): number {
  let total = 0;
  let count = 0;
  for (let i = 0; i < labels.length; i++) {
    if (mask && !mask[i]) continue;
    const q = Math.min(1 - eps, Math.max(eps, probabilities[i]!));
    total -= labels[i] ? Math.log(q) : Math.log(1 - q);
    count++;
  }
  return count === 0 ? NaN : total / count;
}

/** Mean predicted probability over the observed rate: 1 is calibrated, above 1 over-predicts. */
export function calibration(probabilities: Scores, labels: Labels, mask?: ArrayLike<number>): number {
  let predicted = 0;
  let observed = 0;
  for (let i = 0; i < labels.length; i++) {
    if (mask && !mask[i]) continue;
    predicted += probabilities[i]!;
    if (labels[i]) observed++;
  }
  return observed === 0 ? NaN : predicted / observed;
}

/** Largest |a[i] - b[i]| (for parity checks between two implementations of one model). */
export function maxAbsDiff(a: Scores, b: Scores): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (Number.isNaN(d)) return NaN;
    if (d > worst) worst = d;
  }
  return worst;
}

/** Element-wise product, e.g. pCTCVR = pCTR * pCVR. */
export function product(a: Scores, b: Scores): Float32Array {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! * b[i]!;
  return out;
}

/** Element-wise AND of two 0/1 label arrays, e.g. click AND purchase. */
export function both(a: Labels, b: Labels): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] && b[i] ? 1 : 0;
  return out;
}
