// The statistics of an online experiment, over requests (the unit of randomisation here is the
// user, but each simulated request draws its user afresh, so requests are independent draws; with
// real traffic, aggregate per user first):
//  - per arm: CTR (clicks / impressions), CVR (purchases / clicks) and revenue per request, each with
//    a percentile-bootstrap 95% interval resampling requests (a ratio is recomputed per resample,
//    which keeps the correlation of numerator and denominator);
//  - lift of an arm over the control: mean_t / mean_c - 1 with a two-sample bootstrap interval
//    (each arm resampled independently), the absolute difference with its interval, and a Welch
//    z-test p-value for the difference of means;
//  - interleaving: per request, the arm whose items got more clicks wins it; the preference share
//    wins_a / (wins_a + wins_b) with an exact two-sided binomial (sign) test against 1/2.
import { Rng } from '../train/random.ts';

/** One served request's outcome totals. */
export interface RequestTotals {
  impressions: number;
  clicks: number;
  purchases: number;
  revenue: number;
}

export interface Ci {
  value: number;
  lo: number;
  hi: number;
}

export interface ArmSummary {
  requests: number;
  impressions: number;
  clicks: number;
  purchases: number;
  revenue: number;
  ctr: number;
  ctr_ci95: [number, number];
  cvr: number;
  cvr_ci95: [number, number];
  revenue_per_request: number;
  revenue_per_request_ci95: [number, number];
}

export interface Lift {
  /** relative lift of the mean: treatment / control - 1 */
  relative: number;
  relative_ci95: [number, number];
  /** treatment mean - control mean */
  absolute: number;
  absolute_ci95: [number, number];
  /** Welch z-test, two-sided, for the difference of means */
  p_value: number;
  /** the 95% interval of the relative lift excludes 0 */
  significant: boolean;
}

export interface BootstrapSettings {
  samples: number;
  seed: number;
}

export const DEFAULT_BOOTSTRAP: BootstrapSettings = { samples: 2_000, seed: 1 };

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

function interval(draws: Float64Array): [number, number] {
  const finite = draws.filter((v) => Number.isFinite(v)).sort();
  return [percentile(finite, 0.025), percentile(finite, 0.975)];
}

/** Sums of num and den over one bootstrap resample of n requests. */
function resampleSums(num: ArrayLike<number>, den: ArrayLike<number>, rng: Rng): [number, number] {
  const n = num.length;
  let a = 0;
  let b = 0;
  for (let i = 0; i < n; i++) {
    const j = rng.int(n);
    a += num[j]!;
    b += den[j]!;
  }
  return [a, b];
}

function sum(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return s;
}

/** sum(num) / sum(den) with a percentile-bootstrap 95% interval over the paired (num, den) units. */
export function ratioCi(num: ArrayLike<number>, den: ArrayLike<number>, settings: BootstrapSettings = DEFAULT_BOOTSTRAP): Ci {
  if (num.length !== den.length) throw new Error(`ratioCi: ${num.length} numerators, ${den.length} denominators`);
  const value = sum(num) / sum(den);
  if (num.length === 0) return { value: Number.NaN, lo: Number.NaN, hi: Number.NaN };
  const rng = new Rng(settings.seed);
  const draws = new Float64Array(settings.samples);
  for (let s = 0; s < settings.samples; s++) {
    const [a, b] = resampleSums(num, den, rng);
    draws[s] = a / b;
  }
  const [lo, hi] = interval(draws);
  return { value, lo, hi };
}

/** Mean with a percentile-bootstrap 95% interval. */
export function meanCi(values: ArrayLike<number>, settings: BootstrapSettings = DEFAULT_BOOTSTRAP): Ci {
  return ratioCi(values, new Float64Array(values.length).fill(1), settings);
}

export function summarizeArm(requests: readonly RequestTotals[], settings: BootstrapSettings = DEFAULT_BOOTSTRAP): ArmSummary {
  const impressions = Float64Array.from(requests, (r) => r.impressions);
  const clicks = Float64Array.from(requests, (r) => r.clicks);
  const purchases = Float64Array.from(requests, (r) => r.purchases);
  const revenue = Float64Array.from(requests, (r) => r.revenue);
  const ctr = ratioCi(clicks, impressions, settings);
  const cvr = ratioCi(purchases, clicks, { ...settings, seed: settings.seed + 1 });
  const rpr = meanCi(revenue, { ...settings, seed: settings.seed + 2 });
  return {
    requests: requests.length,
    impressions: sum(impressions),
    clicks: sum(clicks),
    purchases: sum(purchases),
    revenue: sum(revenue),
    ctr: ctr.value,
    ctr_ci95: [ctr.lo, ctr.hi],
    cvr: cvr.value,
    cvr_ci95: [cvr.lo, cvr.hi],
    revenue_per_request: rpr.value,
    revenue_per_request_ci95: [rpr.lo, rpr.hi],
  };
}

function meanVar(values: ArrayLike<number>): { mean: number; variance: number } {
  const n = values.length;
  const mean = sum(values) / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i]! - mean) ** 2;
  return { mean, variance: n > 1 ? ss / (n - 1) : 0 };
}

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 through erf; |error| < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/**
 * Lift of the treatment's ratio metric over the control's: sum(num)/sum(den) per arm (den = 1 per
 * request gives a mean), intervals from a two-sample bootstrap, p-value from a Welch z-test on the
 * per-request values (num/den linearised around the arm's ratio: the delta method).
 */
export function ratioLift(
  control: { num: ArrayLike<number>; den: ArrayLike<number> },
  treatment: { num: ArrayLike<number>; den: ArrayLike<number> },
  settings: BootstrapSettings = DEFAULT_BOOTSTRAP,
): Lift {
  const rc = sum(control.num) / sum(control.den);
  const rt = sum(treatment.num) / sum(treatment.den);
  const rng = new Rng(settings.seed);
  const rel = new Float64Array(settings.samples);
  const abs = new Float64Array(settings.samples);
  for (let s = 0; s < settings.samples; s++) {
    const [ca, cb] = resampleSums(control.num, control.den, rng);
    const [ta, tb] = resampleSums(treatment.num, treatment.den, rng);
    const c = ca / cb;
    const t = ta / tb;
    rel[s] = t / c - 1;
    abs[s] = t - c;
  }
  // Delta method: the variance of a ratio estimate is that of (num - r den) / mean(den), over n.
  const linearised = (arm: { num: ArrayLike<number>; den: ArrayLike<number> }, r: number) => {
    const n = arm.num.length;
    const meanDen = sum(arm.den) / n;
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) values[i] = (arm.num[i]! - r * arm.den[i]!) / meanDen;
    return meanVar(values).variance / n;
  };
  const se = Math.sqrt(linearised(control, rc) + linearised(treatment, rt));
  const relativeCi = interval(rel);
  // Without variance (constant values) the difference is certain: p 0 if there is one, else 1.
  const p = se > 0 ? 2 * (1 - normalCdf(Math.abs((rt - rc) / se))) : rt === rc ? 1 : 0;
  return {
    relative: rt / rc - 1,
    relative_ci95: relativeCi,
    absolute: rt - rc,
    absolute_ci95: interval(abs),
    p_value: p,
    significant: relativeCi[0] > 0 || relativeCi[1] < 0,
  };
}

/** Lift of mean(treatment) over mean(control). */
export function meanLift(control: ArrayLike<number>, treatment: ArrayLike<number>, settings: BootstrapSettings = DEFAULT_BOOTSTRAP): Lift {
  return ratioLift({ num: control, den: new Float64Array(control.length).fill(1) }, { num: treatment, den: new Float64Array(treatment.length).fill(1) }, settings);
}

// ---------------------------------------------------------------------------------------------
// Interleaving
// ---------------------------------------------------------------------------------------------

/** ln Gamma(x) for x > 0 (Lanczos, g = 7, n = 9; ~1e-15 relative). */
export function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

function logBinomialPmf(k: number, n: number, p: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1) + k * Math.log(p) + (n - k) * Math.log(1 - p);
}

/**
 * Exact two-sided binomial test: P(X as or less likely than k) under Binomial(n, p), summing the
 * probabilities of every outcome no more likely than the observed one (as R's binom.test does).
 */
export function binomialTestTwoSided(k: number, n: number, p = 0.5): number {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 0 || k > n) throw new Error(`binomial test needs integers 0 <= k <= n, got k=${k}, n=${n}`);
  if (n === 0) return 1;
  const observed = logBinomialPmf(k, n, p);
  const tolerance = 1 + 1e-7;
  let total = 0;
  for (let i = 0; i <= n; i++) {
    const lp = logBinomialPmf(i, n, p);
    if (lp <= observed + Math.log(tolerance)) total += Math.exp(lp);
  }
  return Math.min(1, total);
}

export interface InterleavingRequest {
  /** clicks on items credited to arm A / arm B */
  clicksA: number;
  clicksB: number;
}

export interface InterleavingSummary {
  requests: number;
  /** requests with at least one click on a credited item */
  with_clicks: number;
  wins_a: number;
  wins_b: number;
  ties: number;
  /** wins_a / (wins_a + wins_b): above 0.5, A is preferred */
  preference_a: number;
  preference_a_ci95: [number, number];
  /** exact two-sided sign test of wins_a against wins_b */
  p_value: number;
  clicks_a: number;
  clicks_b: number;
  /** clicks_a / (clicks_a + clicks_b) */
  click_share_a: number;
}

export function summarizeInterleaving(requests: readonly InterleavingRequest[], settings: BootstrapSettings = DEFAULT_BOOTSTRAP): InterleavingSummary {
  let winsA = 0;
  let winsB = 0;
  let ties = 0;
  let clicksA = 0;
  let clicksB = 0;
  const decided: number[] = [];
  for (const r of requests) {
    clicksA += r.clicksA;
    clicksB += r.clicksB;
    if (r.clicksA === 0 && r.clicksB === 0) continue;
    if (r.clicksA > r.clicksB) {
      winsA++;
      decided.push(1);
    } else if (r.clicksB > r.clicksA) {
      winsB++;
      decided.push(0);
    } else ties++;
  }
  const share = meanCi(decided, settings);
  return {
    requests: requests.length,
    with_clicks: winsA + winsB + ties,
    wins_a: winsA,
    wins_b: winsB,
    ties,
    preference_a: winsA / (winsA + winsB),
    preference_a_ci95: [share.lo, share.hi],
    p_value: binomialTestTwoSided(winsA, winsA + winsB),
    clicks_a: clicksA,
    clicks_b: clicksB,
    click_share_a: clicksA / (clicksA + clicksB),
  };
}
