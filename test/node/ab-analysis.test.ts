// The simulator's statistics (model/eval/ab-analysis.ts) on examples worked out by hand (and, for
// the binomial test, against R's binom.test).
import { describe, expect, it } from 'vitest';
import { binomialTestTwoSided, logGamma, meanCi, meanLift, normalCdf, ratioCi, ratioLift, summarizeArm, summarizeInterleaving } from '../../model/eval/ab-analysis.ts';

describe('binomial (sign) test', () => {
  it("matches R's binom.test two-sided p-values", () => {
    expect(binomialTestTwoSided(7, 10)).toBeCloseTo(0.34375, 10);
    expect(binomialTestTwoSided(3, 10)).toBeCloseTo(0.34375, 10);
    expect(binomialTestTwoSided(0, 10)).toBeCloseTo(2 / 1024, 12);
    expect(binomialTestTwoSided(5, 10)).toBe(1);
    expect(binomialTestTwoSided(60, 100)).toBeCloseTo(0.05688793, 7);
    expect(binomialTestTwoSided(3, 4)).toBeCloseTo(0.625, 10);
    expect(binomialTestTwoSided(2, 10, 0.3)).toBeCloseTo(0.733172, 6); // all but P(X = 3)
    expect(binomialTestTwoSided(5200, 10000) / 6.593515598672442e-5).toBeCloseTo(1, 8); // exact, by integer arithmetic
    expect(binomialTestTwoSided(0, 0)).toBe(1);
  });

  it('rests on an accurate log-gamma and normal CDF', () => {
    expect(logGamma(1)).toBeCloseTo(0, 12);
    expect(logGamma(11)).toBeCloseTo(Math.log(3628800), 10);
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 10);
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-1.644854)).toBeCloseTo(0.05, 6);
  });
});

describe('arm summaries and lifts', () => {
  it('CTR = clicks / impressions, CVR = purchases / clicks, revenue per request, each with an interval around it', () => {
    const s = summarizeArm([
      { impressions: 10, clicks: 2, purchases: 1, revenue: 20 },
      { impressions: 10, clicks: 0, purchases: 0, revenue: 0 },
      { impressions: 20, clicks: 2, purchases: 1, revenue: 10 },
    ]);
    expect(s.requests).toBe(3);
    expect(s.ctr).toBeCloseTo(4 / 40, 12);
    expect(s.cvr).toBeCloseTo(2 / 4, 12);
    expect(s.revenue_per_request).toBeCloseTo(10, 12);
    expect(s.revenue_per_request_ci95[0]).toBeLessThanOrEqual(10);
    expect(s.revenue_per_request_ci95[1]).toBeGreaterThanOrEqual(10);
    expect(s.revenue_per_request_ci95[0]).toBeGreaterThanOrEqual(0);
    expect(s.revenue_per_request_ci95[1]).toBeLessThanOrEqual(20);
  });

  it('bootstrap intervals: degenerate for constant data, about +-1.96 standard errors for a large sample', () => {
    expect(meanCi([3, 3, 3, 3])).toEqual({ value: 3, lo: 3, hi: 3 });
    // 0/1 values with p = 0.5, n = 400: se = 0.025, the 95% interval about 0.5 +- 0.049
    const values = Array.from({ length: 400 }, (_, i) => i % 2);
    const ci = meanCi(values);
    expect(ci.value).toBe(0.5);
    expect(ci.lo).toBeGreaterThan(0.44);
    expect(ci.lo).toBeLessThan(0.46);
    expect(ci.hi).toBeGreaterThan(0.54);
    expect(ci.hi).toBeLessThan(0.56);
    // a ratio keeps numerator and denominator paired
    expect(ratioCi([1, 2], [2, 4])).toEqual({ value: 0.5, lo: 0.5, hi: 0.5 });
    // and is the same with the same seed
    expect(meanCi(values, { samples: 500, seed: 9 })).toEqual(meanCi(values, { samples: 500, seed: 9 }));
  });

  it('lift: relative and absolute differences, Welch z-test p-value, significance when the interval excludes 0', () => {
    const certain = meanLift([10, 10, 10], [12, 12, 12]);
    expect(certain.relative).toBeCloseTo(0.2, 12);
    expect(certain.relative_ci95[0]).toBeCloseTo(0.2, 12);
    expect(certain.relative_ci95[1]).toBeCloseTo(0.2, 12);
    expect(certain.absolute).toBeCloseTo(2, 12);
    expect(certain.p_value).toBe(0);
    expect(certain.significant).toBe(true);
    // means 2.5 and 3.5, variances 5/3 each, n = 4: z = 1 / sqrt(5/6) = 1.0954, p = 0.2733
    const small = meanLift([1, 2, 3, 4], [2, 3, 4, 5]);
    expect(small.relative).toBeCloseTo(0.4, 12);
    expect(small.p_value).toBeCloseTo(0.27332, 4);
    expect(small.significant).toBe(false);
    expect(small.relative_ci95[0]).toBeLessThan(0);
    // identical arms: no lift
    const same = meanLift([1, 0, 1, 0, 1], [1, 0, 1, 0, 1]);
    expect(same.relative).toBe(0);
    expect(same.p_value).toBeCloseTo(1, 6);
    // a ratio metric: CTR 0.1 vs 0.15
    const ctr = ratioLift({ num: [1, 1, 1, 1], den: [10, 10, 10, 10] }, { num: [2, 1, 2, 1], den: [10, 10, 10, 10] });
    expect(ctr.relative).toBeCloseTo(0.5, 12);
    expect(ctr.absolute).toBeCloseTo(0.05, 12);
  });
});

describe('interleaving preference', () => {
  it('counts per-request wins by clicks on each arm\'s items, ties apart, and tests wins with the sign test', () => {
    const s = summarizeInterleaving([
      { clicksA: 2, clicksB: 1 },
      { clicksA: 0, clicksB: 1 },
      { clicksA: 1, clicksB: 0 },
      { clicksA: 1, clicksB: 1 },
      { clicksA: 0, clicksB: 0 },
      { clicksA: 3, clicksB: 0 },
    ]);
    expect(s).toMatchObject({ requests: 6, with_clicks: 5, wins_a: 3, wins_b: 1, ties: 1, clicks_a: 7, clicks_b: 3 });
    expect(s.preference_a).toBeCloseTo(0.75, 12);
    expect(s.click_share_a).toBeCloseTo(0.7, 12);
    expect(s.p_value).toBeCloseTo(0.625, 10);
  });
});
