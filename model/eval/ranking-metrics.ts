// Ranking metrics over slates: NDCG@k with log2 discounts, its mean over slates and seeded
// bootstrap confidence intervals (percentile method, resampling slates). Shared by the dataset
// training pipeline and the eval command.
//
//   DCG@k  = sum_{i < k} gain(rel_(i)) / log2(i + 2)     (i = 0-based rank)
//   NDCG@k = DCG@k of the scored order / DCG@k of the slate's own labels sorted by relevance
//
// Gains are the relevance as given ('linear', the default: booked 5, clicked 1, else 0 -> gains
// 5, 1, 0) or 2^rel - 1 ('exponential', as some toolkits define it). Ties in the scores are
// resolved in expectation (McSherry & Najork 2008): every item of a tied group gets the group's mean
// gain, which is the mean NDCG over all orders of the tie. Breaking ties by input order instead would
// leak the logged order into any model that scores items alike (e.g. popularity with unseen items).
import { Rng } from '../train/random.ts';

export type GainKind = 'linear' | 'exponential';

export interface RelevanceGrades {
  /** relevance of a purchased (booked) item; default 5 */
  purchase: number;
  /** relevance of a clicked, not purchased item; default 1 */
  click: number;
}

export const DEFAULT_GRADES: RelevanceGrades = { purchase: 5, click: 1 };

/** Per-item relevance: purchase grade if purchased, click grade if clicked only, else 0. */
export function slateRelevance(slate: { clicks: ArrayLike<number>; purchases: ArrayLike<number> }, grades: RelevanceGrades = DEFAULT_GRADES): Float64Array {
  const n = slate.clicks.length;
  const rel = new Float64Array(n);
  for (let i = 0; i < n; i++) rel[i] = slate.purchases[i] ? grades.purchase : slate.clicks[i] ? grades.click : 0;
  return rel;
}

function gainOf(rel: number, kind: GainKind): number {
  return kind === 'linear' ? rel : 2 ** rel - 1;
}

function discount(rank: number): number {
  return 1 / Math.log2(rank + 2);
}

/** DCG@k of relevances already in ranked order. */
export function dcgAtK(ranked: ArrayLike<number>, k: number, gain: GainKind = 'linear'): number {
  let dcg = 0;
  const n = Math.min(k, ranked.length);
  for (let i = 0; i < n; i++) dcg += gainOf(ranked[i]!, gain) * discount(i);
  return dcg;
}

/** The best achievable DCG@k for these relevances. */
export function idealDcgAtK(relevance: ArrayLike<number>, k: number, gain: GainKind = 'linear'): number {
  const sorted = Float64Array.from(relevance).sort().reverse();
  return dcgAtK(sorted, k, gain);
}

/**
 * NDCG@k of ranking the items by descending score (ties in expectation). NaN when the slate has no
 * relevant item (ideal DCG 0): such slates carry no ranking information and are left out of means.
 */
export function ndcgAtK(scores: ArrayLike<number>, relevance: ArrayLike<number>, k: number, gain: GainKind = 'linear'): number {
  const n = relevance.length;
  if (scores.length !== n) throw new Error(`scores has ${scores.length} values, relevance ${n}`);
  if (!(k >= 1)) throw new Error(`k must be >= 1, got ${k}`);
  const ideal = idealDcgAtK(relevance, k, gain);
  if (ideal === 0) return Number.NaN;
  for (let i = 0; i < n; i++) if (Number.isNaN(scores[i]!)) throw new Error(`score ${i} is NaN`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let dcg = 0;
  for (let start = 0; start < n && start < k; ) {
    let end = start + 1;
    while (end < n && scores[order[end]!] === scores[order[start]!]) end++;
    let gainSum = 0;
    for (let i = start; i < end; i++) gainSum += gainOf(relevance[order[i]!]!, gain);
    let discountSum = 0;
    for (let i = start; i < Math.min(end, k); i++) discountSum += discount(i);
    dcg += (gainSum / (end - start)) * discountSum;
    start = end;
  }
  return dcg / ideal;
}

/** The exact expected NDCG@k of a uniformly random order (every item tied). */
export function randomNdcgAtK(relevance: ArrayLike<number>, k: number, gain: GainKind = 'linear'): number {
  return ndcgAtK(new Float64Array(relevance.length), relevance, k, gain);
}

export interface ScoredSlate {
  scores: ArrayLike<number>;
  relevance: ArrayLike<number>;
}

/** NDCG@k per slate (NaN for slates without a relevant item). */
export function ndcgPerSlate(slates: readonly ScoredSlate[], k: number, gain: GainKind = 'linear'): Float64Array {
  return Float64Array.from(slates, (s) => ndcgAtK(s.scores, s.relevance, k, gain));
}

/** Mean of the non-NaN values (NaN if there are none). */
export function meanOf(values: ArrayLike<number>): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) continue;
    sum += v;
    count++;
  }
  return count === 0 ? Number.NaN : sum / count;
}

export interface BootstrapOptions {
  /** resamples; default 10,000 */
  samples?: number;
  /** default 0.95 */
  level?: number;
  /** seeds the resampling (same seed, same interval); default 1 */
  seed?: number;
}

export interface Interval {
  /** the statistic on the data itself */
  mean: number;
  lo: number;
  hi: number;
  /** values used (NaNs excluded) */
  n: number;
  level: number;
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

function dropNaN(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(Array.from(values as ArrayLike<number>).filter((v) => !Number.isNaN(v)));
}

/** Percentile bootstrap CI of the mean of per-slate values (NaNs excluded), resampling slates. */
export function bootstrapMeanCI(values: ArrayLike<number>, options: BootstrapOptions = {}): Interval {
  const { samples = 10_000, level = 0.95, seed = 1 } = options;
  const v = dropNaN(values);
  const n = v.length;
  const mean = meanOf(v);
  if (n === 0) return { mean, lo: Number.NaN, hi: Number.NaN, n, level };
  const rng = new Rng(seed);
  const means = new Float64Array(samples);
  for (let s = 0; s < samples; s++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += v[rng.int(n)]!;
    means[s] = sum / n;
  }
  means.sort();
  return { mean, lo: percentile(means, (1 - level) / 2), hi: percentile(means, 1 - (1 - level) / 2), n, level };
}

/**
 * Paired bootstrap CI of mean(a - b) over the same slates (resampling slate indices once for both),
 * e.g. a model against the logged order. Slates where either value is NaN are dropped.
 */
export function pairedBootstrapCI(a: ArrayLike<number>, b: ArrayLike<number>, options: BootstrapOptions = {}): Interval {
  if (a.length !== b.length) throw new Error(`paired values differ in length: ${a.length} vs ${b.length}`);
  const diff: number[] = [];
  for (let i = 0; i < a.length; i++) if (!Number.isNaN(a[i]!) && !Number.isNaN(b[i]!)) diff.push(a[i]! - b[i]!);
  return bootstrapMeanCI(diff, options);
}

/** Mean NDCG@k over slates with its bootstrap CI. */
export function ndcgSummary(slates: readonly ScoredSlate[], k: number, options: BootstrapOptions & { gain?: GainKind } = {}): Interval & { perSlate: Float64Array } {
  const perSlate = ndcgPerSlate(slates, k, options.gain ?? 'linear');
  return { ...bootstrapMeanCI(perSlate, options), perSlate };
}
