// The analysis the simulator prints: the exposure log (what the worker says it served, to whom -
// by arm - and where) joined with the outcomes, summarised per arm with 95% intervals, the lift of
// every arm over the control, and for interleaved slates the preference between its two arms.
import type { ExposureOutcome, ExposureRow } from '../../model/data/exposure-row.ts';
import { meanCi, meanLift, normalCdf, ratioCi, ratioLift, summarizeArm, summarizeInterleaving, type ArmSummary, type BootstrapSettings, type InterleavingSummary, type Lift, type RequestTotals } from '../../model/eval/ab-analysis.ts';

export interface ArmReport extends ArmSummary {
  /** the ground truth's expected revenue per request of the served orders (no click/purchase noise), if known */
  expected_revenue_per_request?: number;
}

export interface LiftReport {
  revenue: number;
  revenue_ci95: [number, number];
  revenue_p_value: number;
  revenue_significant: boolean;
  ctr: number;
  ctr_ci95: [number, number];
  cvr: number;
  cvr_ci95: [number, number];
  /** relative lift of the expected revenue per request (ground truth), if known */
  expected_revenue?: number;
}

/**
 * Interleaving judged by purchased revenue: per interleaved request, the revenue of the purchased
 * items each side contributed. Revenue share of A (ratio of sums, bootstrap interval over requests)
 * and a paired z-test of the per-request difference A - B (purchases are rare and prices vary, so a
 * win count would ignore how much each purchase is worth).
 */
export interface RevenuePreference {
  with_purchases: number;
  revenue_a: number;
  revenue_b: number;
  revenue_share_a: number;
  revenue_share_a_ci95: [number, number];
  /** mean over interleaved requests of revenue(A) - revenue(B) */
  mean_difference: number;
  mean_difference_ci95: [number, number];
  p_value: number;
}

export interface InterleavingReport extends InterleavingSummary {
  a: string;
  b: string;
  /**
   * Clicks judge which side users click; an objective of expected revenue trades clicks for pricier
   * purchases, so the same sign test on each side's purchased revenue says which side earns more.
   */
  by_revenue: RevenuePreference;
}

export interface Analysis {
  arms: Record<string, ArmReport>;
  lift: Record<string, LiftReport>;
  interleaving?: InterleavingReport;
  /** exposure rows whose request has no outcome row at all (fine: nothing was clicked) */
  requests_without_clicks: number;
  fallbacks: number;
}

export function analyze(rows: readonly ExposureRow[], outcomes: readonly ExposureOutcome[], options: { control: string; expectedRevenue?: Map<string, number>; bootstrap?: BootstrapSettings }): Analysis {
  const byRequest = new Map<string, Map<string, ExposureOutcome>>();
  for (const o of outcomes) {
    let m = byRequest.get(o.request_id);
    if (!m) byRequest.set(o.request_id, (m = new Map()));
    m.set(o.item_id, o);
  }
  const perArm = new Map<string, { totals: RequestTotals[]; expected: number[] }>();
  const interleaved: Array<{ clicksA: number; clicksB: number }> = [];
  const interleavedRevenue: Array<{ a: number; b: number }> = [];
  let sides: [string, string] | undefined;
  let withoutClicks = 0;
  let fallbacks = 0;
  for (const row of rows) {
    const events = byRequest.get(row.request_id);
    if (!events) withoutClicks++;
    if (row.fallback) fallbacks++;
    const totals: RequestTotals = { impressions: row.items.length, clicks: 0, purchases: 0, revenue: 0 };
    let clicksA = 0;
    let clicksB = 0;
    let revenueA = 0;
    let revenueB = 0;
    for (const item of row.items) {
      const o = events?.get(item.id);
      if (!o || !(o.clicked || o.purchased)) continue;
      // interleaving: the side that contributed the item (neither: a pin placed it)
      const onA = row.sides !== undefined && item.arm === row.sides[0];
      const onB = row.sides !== undefined && item.arm === row.sides[1];
      totals.clicks++;
      if (onA) clicksA++;
      else if (onB) clicksB++;
      if (o.purchased) {
        const price = item.price ?? 0;
        totals.purchases++;
        totals.revenue += price;
        if (onA) revenueA += price;
        else if (onB) revenueB += price;
      }
    }
    let arm = perArm.get(row.arm);
    if (!arm) perArm.set(row.arm, (arm = { totals: [], expected: [] }));
    arm.totals.push(totals);
    const expected = options.expectedRevenue?.get(row.request_id);
    if (expected !== undefined) arm.expected.push(expected);
    if (row.sides) {
      sides ??= row.sides;
      interleaved.push({ clicksA, clicksB });
      interleavedRevenue.push({ a: revenueA, b: revenueB });
    }
  }

  const arms: Record<string, ArmReport> = {};
  for (const [name, { totals, expected }] of [...perArm.entries()].sort()) {
    arms[name] = { ...summarizeArm(totals, options.bootstrap), ...(expected.length === totals.length && expected.length > 0 ? { expected_revenue_per_request: expected.reduce((a, b) => a + b, 0) / expected.length } : {}) };
  }

  const lift: Record<string, LiftReport> = {};
  const control = perArm.get(options.control);
  if (control) {
    const cols = (t: RequestTotals[]) => ({
      clicks: t.map((r) => r.clicks),
      impressions: t.map((r) => r.impressions),
      purchases: t.map((r) => r.purchases),
      revenue: t.map((r) => r.revenue),
    });
    const c = cols(control.totals);
    for (const [name, arm] of perArm) {
      if (name === options.control) continue;
      const t = cols(arm.totals);
      const revenue: Lift = meanLift(c.revenue, t.revenue, options.bootstrap);
      const ctr = ratioLift({ num: c.clicks, den: c.impressions }, { num: t.clicks, den: t.impressions }, options.bootstrap);
      const cvr = ratioLift({ num: c.purchases, den: c.clicks }, { num: t.purchases, den: t.clicks }, options.bootstrap);
      const meanOf = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
      lift[name] = {
        revenue: revenue.relative,
        revenue_ci95: revenue.relative_ci95,
        revenue_p_value: revenue.p_value,
        revenue_significant: revenue.significant,
        ctr: ctr.relative,
        ctr_ci95: ctr.relative_ci95,
        cvr: cvr.relative,
        cvr_ci95: cvr.relative_ci95,
        ...(control.expected.length > 0 && arm.expected.length > 0 ? { expected_revenue: meanOf(arm.expected) / meanOf(control.expected) - 1 } : {}),
      };
    }
  }

  return {
    arms,
    lift,
    ...(sides ? { interleaving: { a: sides[0], b: sides[1], ...summarizeInterleaving(interleaved, options.bootstrap), by_revenue: revenuePreference(interleavedRevenue, options.bootstrap) } } : {}),
    requests_without_clicks: withoutClicks,
    fallbacks,
  };
}

/** `requests`: per interleaved request, the purchased revenue of side A's items and of side B's. */
function revenuePreference(requests: ReadonlyArray<{ a: number; b: number }>, bootstrap?: BootstrapSettings): RevenuePreference {
  const a = Float64Array.from(requests, (r) => r.a);
  const both = Float64Array.from(requests, (r) => r.a + r.b);
  const diff = Float64Array.from(requests, (r) => r.a - r.b);
  const share = ratioCi(a, both, bootstrap);
  const mean = meanCi(diff, bootstrap);
  const n = diff.length;
  let ss = 0;
  for (const d of diff) ss += (d - mean.value) ** 2;
  const se = n > 1 ? Math.sqrt(ss / (n - 1) / n) : 0;
  const z = se > 0 ? mean.value / se : 0;
  const revenueA = a.reduce((x, y) => x + y, 0);
  const revenueAll = both.reduce((x, y) => x + y, 0);
  return {
    with_purchases: both.filter((v) => v > 0).length,
    revenue_a: revenueA,
    revenue_b: revenueAll - revenueA,
    revenue_share_a: share.value,
    revenue_share_a_ci95: [share.lo, share.hi],
    mean_difference: mean.value,
    mean_difference_ci95: [mean.lo, mean.hi],
    p_value: 2 * (1 - normalCdf(Math.abs(z))),
  };
}
