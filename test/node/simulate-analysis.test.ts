// The simulator's join of the exposure log with outcomes (scripts/simulate/analyze.ts) and its
// report, on a hand-made log whose per-arm totals are known.
import { describe, expect, it } from 'vitest';
import { EXPOSURE_ROW_VERSION, type ExposureOutcome, type ExposureRow } from '../../model/data/exposure-row.ts';
import { analyze } from '../../scripts/simulate/analyze.ts';
import { renderSimulationReport, type SimulationSummary } from '../../scripts/simulate/report.ts';

function row(requestId: string, arm: string, items: Array<{ id: string; price: number; side?: string }>, sides?: [string, string]): ExposureRow {
  return {
    v: EXPOSURE_ROW_VERSION,
    request_id: requestId,
    ts: 0,
    unit: { kind: 'user', hash: 'h' },
    experiment: 'exp',
    arm,
    arm_kind: sides ? 'interleave' : arm === 'popularity' ? 'popularity' : 'model',
    ...(sides ? { sides } : {}),
    override: false,
    model: { id: 'm', version: 'v' },
    features_model: null,
    inputs: null,
    feature_set: 'fs-1',
    fallback: null,
    context: {},
    k: null,
    candidates: items.length,
    items: items.map((item, j) => ({ id: item.id, position: j + 1, score: 1, p_ctr: null, p_cvr: null, price: item.price, ...(item.side ? { arm: item.side } : {}) })),
  } as ExposureRow;
}

const outcome = (request_id: string, item_id: string, purchased: 0 | 1 = 0): ExposureOutcome => ({ request_id, item_id, clicked: 1, purchased });

describe('simulator analysis', () => {
  const rows = [
    row('r1', 'model', [{ id: 'a', price: 10 }, { id: 'b', price: 20 }]),
    row('r2', 'model', [{ id: 'a', price: 10 }, { id: 'b', price: 20 }]),
    row('r3', 'popularity', [{ id: 'b', price: 20 }, { id: 'a', price: 10 }]),
    row('r4', 'popularity', [{ id: 'b', price: 20 }, { id: 'a', price: 10 }]),
  ];
  // model: 2 clicks of 4 impressions, 1 purchase of 20 -> revenue/request 10; popularity: 1 click, no purchase
  const outcomes = [outcome('r1', 'b', 1), outcome('r2', 'a'), outcome('r3', 'a')];

  it('counts impressions, clicks, purchases and the purchased price per arm from the log and the outcomes', () => {
    const analysis = analyze(rows, outcomes, { control: 'popularity' });
    expect(analysis.arms.model).toMatchObject({ requests: 2, impressions: 4, clicks: 2, purchases: 1, revenue: 20, ctr: 0.5, cvr: 0.5, revenue_per_request: 10 });
    expect(analysis.arms.popularity).toMatchObject({ requests: 2, impressions: 4, clicks: 1, purchases: 0, revenue: 0, ctr: 0.25, revenue_per_request: 0 });
    expect(analysis.lift.model!.ctr).toBeCloseTo(1, 10); // 0.5 / 0.25 - 1
    expect(analysis.lift.popularity).toBeUndefined();
    expect(analysis.requests_without_clicks).toBe(1);
  });

  it('credits interleaved clicks to the side that contributed the item', () => {
    const sides: [string, string] = ['model', 'popularity'];
    const interleaved = [
      row('i1', 'il', [{ id: 'a', price: 1, side: 'model' }, { id: 'b', price: 1, side: 'popularity' }], sides),
      row('i2', 'il', [{ id: 'b', price: 1, side: 'popularity' }, { id: 'a', price: 1, side: 'model' }], sides),
      row('i3', 'il', [{ id: 'a', price: 1, side: 'model' }, { id: 'b', price: 1, side: 'popularity' }], sides),
    ];
    const analysis = analyze(interleaved, [outcome('i1', 'a'), outcome('i2', 'a'), outcome('i3', 'b')], { control: 'il' });
    expect(analysis.interleaving).toMatchObject({ a: 'model', b: 'popularity', requests: 3, with_clicks: 3, wins_a: 2, wins_b: 1, ties: 0, clicks_a: 2, clicks_b: 1 });
  });

  it('also judges interleaving by purchased revenue: each side\'s share and the paired per-request difference', () => {
    const sides: [string, string] = ['model', 'popularity'];
    const interleaved = [
      row('i1', 'il', [{ id: 'a', price: 30, side: 'model' }, { id: 'b', price: 5, side: 'popularity' }], sides),
      row('i2', 'il', [{ id: 'b', price: 5, side: 'popularity' }, { id: 'a', price: 30, side: 'model' }], sides),
      row('i3', 'il', [{ id: 'a', price: 30, side: 'model' }, { id: 'b', price: 5, side: 'popularity' }], sides),
    ];
    // model sells once for 30, popularity twice for 5: more purchases, less revenue
    const analysis = analyze(interleaved, [outcome('i1', 'a', 1), outcome('i2', 'b', 1), outcome('i3', 'b', 1)], { control: 'il' });
    const byRevenue = analysis.interleaving!.by_revenue;
    expect(byRevenue).toMatchObject({ with_purchases: 3, revenue_a: 30, revenue_b: 10 });
    expect(byRevenue.revenue_share_a).toBeCloseTo(0.75, 10);
    expect(byRevenue.mean_difference).toBeCloseTo((30 - 5 - 5) / 3, 10);
    expect(byRevenue.revenue_share_a_ci95[0]).toBeLessThanOrEqual(0.75);
    expect(byRevenue.revenue_share_a_ci95[1]).toBeGreaterThanOrEqual(0.75);
    expect(byRevenue.p_value).toBeGreaterThan(0);
    expect(byRevenue.p_value).toBeLessThanOrEqual(1);
  });

  it('renders a self-contained report with every arm, the lift and its interval', () => {
    const analysis = analyze(rows, outcomes, { control: 'popularity' });
    const summary: SimulationSummary = {
      scenario: 'ab',
      run: 'run-1',
      requests: 4,
      failed_requests: 0,
      exposure_rows: 4,
      control: 'popularity',
      arms: analysis.arms,
      lift: analysis.lift,
      model: { id: 'm', version: 'v' },
      world: { name: 'demo', seed: 1, version: 3 },
      seconds: 1,
    };
    const html = renderSimulationReport(summary);
    expect(html).toContain('<svg');
    expect(html).toContain('Lift over the control (popularity)');
    expect(html).toContain('10.00'); // the model arm's revenue per request
    expect(html).not.toMatch(/<script|\b(src|href)=/); // opens offline, loads nothing
  });
});
