// The HTML report: self-contained (no scripts, no external resources), with the tables and the
// inline SVG plots, misses listed, text escaped; and the SVG helpers' geometry.
import { describe, expect, it } from 'vitest';
import type { EvalReport, LearningPoint, PolicyName, PolicyResult } from '../../model/eval/offline-eval.ts';
import { findings, renderReport } from '../../model/eval/report/render.ts';
import { barChart, lineChart, logTicks, niceTicks } from '../../model/eval/report/svg.ts';
import { evalSummary } from '../../model/eval/summary.ts';

const bins = [
  { lo: 0.01, hi: 0.05, count: 50, meanPredicted: 0.03, meanObserved: 0.02 },
  { lo: 0.05, hi: 0.3, count: 50, meanPredicted: 0.12, meanObserved: 0.1 },
];

function policy(name: PolicyName, ndcg: number, revenue: number, aucExpected: number): PolicyResult {
  const probabilities = name !== 'logged';
  return {
    name,
    label: name === 'int8' ? 'int8 (served)' : name,
    description: `the ${name} policy <b>`,
    ctr: { auc: 0.6, logloss: probabilities ? 0.2 : null, ece: probabilities ? 0.01 : null, reliability: probabilities ? bins : null, auc_expected: aucExpected, ece_vs_truth: probabilities ? 0.02 : null, reliability_vs_truth: probabilities ? bins : null },
    cvr: { auc: probabilities ? 0.55 : null, logloss: probabilities ? 0.3 : null, ece: probabilities ? 0.02 : null, reliability: probabilities ? bins : null, auc_expected: probabilities ? 0.6 : null, ece_vs_truth: null, reliability_vs_truth: null },
    ndcg: { mean: ndcg, lo: ndcg - 0.02, hi: ndcg + 0.02, n: 100 },
    world: { clicks_per_slate: 0.8, revenue_per_slate: revenue, revenue_per_slate_ci95: [revenue - 1, revenue + 1] },
  };
}

const curve: LearningPoint[] = [100_000, 300_000, 1_000_000].map((impressions, i) => ({
  impressions,
  slates: 500 * (i + 1),
  train_rows: impressions * 0.6,
  ctr_auc: 0.62 + i * 0.02,
  ctr_auc_popularity: 0.63,
  ctr_auc_oracle: 0.75,
  revenue_per_slate: 11 + i,
  revenue_per_slate_popularity: 11.4,
  revenue_per_slate_oracle: 14.9,
  ndcg10: 0.3,
  gap_closed: { auc: -0.1 + i * 0.2, revenue: 0.1 + i * 0.2 },
  train_seconds: 10 * (i + 1),
  rows_per_second: 30_000,
  epochs: 3,
  best_epoch: 1,
}));

function worldReport(): EvalReport {
  return {
    dataset: 'world',
    generated_at: '2026-01-01T00:00:00.000Z',
    command: 'npm run eval -- --dataset world',
    model: { id: 'm', version: 'v1', source: 'artifact', dir: '/x', objective: { kind: 'expected_revenue', price_exponent: 1 }, description: null },
    data: { description: 'the last 3 days', slates: 100, rows: 2000, clicks: 150, purchases: 20, training_window: 'days 7-25' },
    k: 10,
    bins: 10,
    bootstrap_samples: 10_000,
    policies: [policy('int8', 0.3, 12, 0.63), policy('fp32', 0.3, 12, 0.63), policy('popularity', 0.45, 11.4, 0.633), policy('logged', 0.49, 9.7, 0.56), policy('random', 0.25, 8.5, 0.5), policy('oracle', 0.43, 14.9, 0.75)],
    paired: [
      { name: 'int8 - fp32', ndcg: { mean: -0.001, lo: -0.003, hi: 0.0001, n: 100 }, revenue: { mean: 0, lo: -0.01, hi: 0.01, n: 100 } },
      { name: 'int8 - logged', ndcg: { mean: -0.2, lo: -0.23, hi: -0.17, n: 100 }, revenue: { mean: 2.3, lo: 1.8, hi: 2.8, n: 100 } },
      { name: 'int8 - popularity', ndcg: { mean: -0.15, lo: -0.18, hi: -0.13, n: 100 }, revenue: { mean: 0.5, lo: 0.08, hi: 0.9, n: 100 } },
    ],
    world: {
      description: { version: 'world-v2', settings: { name: 'demo', seed: 1 }, window: { start: 'a', end: 'b' } },
      gap_closed: { auc: -0.024, revenue: 0.145 },
      gap_closed_fp32: { auc: -0.023, revenue: 0.146 },
      reproduction: { manifest_rows: 22201, rows: 20987, manifest_ctr_auc: 0.64, batch_ctr_auc: 0.646, matches: false },
    },
    learning_curve: curve,
    notes: ['a note with <script>alert(1)</script> in it'],
  };
}

describe('the HTML report', () => {
  const html = renderReport(worldReport());

  it('is one self-contained page: no script, no external resource', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link|<img|src=|@import|url\(/i);
    const urls = html.match(/https?:\/\/[^\s"'<]+/g) ?? [];
    expect(urls.every((u) => u === 'http://www.w3.org/2000/svg')).toBe(true);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('the int8 policy &lt;b&gt;');
  });

  it('has the plots and tables', () => {
    const svgs = html.match(/<svg /g) ?? [];
    // NDCG, expected AUC, revenue, clicks; 4 reliability curves; 3 learning-curve plots
    expect(svgs.length).toBe(11);
    for (const title of ['NDCG@10 on 100 held-out slates', 'Expected revenue per slate', 'CTR vs true P(click at position 1)', 'CVR vs logged purchases (clicked rows)', 'Expected CTR AUC by log size', 'Gap closed by log size']) {
      expect(html).toContain(title);
    }
    for (const section of ['id="ranking"', 'id="world"', 'id="heads"', 'id="calibration"', 'id="learning-curve"', 'id="setup"', 'id="definitions"']) expect(html).toContain(section);
    expect(html).toContain('<table');
    expect(html).toContain('1,000,000');
    expect(html).toContain('world-v2');
  });

  it('lists the misses the numbers show', () => {
    const f = findings(worldReport());
    expect(f.misses.some((m) => m.includes('below the logged order'))).toBe(true);
    expect(f.misses.some((m) => m.includes('below popularity'))).toBe(true);
    expect(f.misses.some((m) => m.includes('does not close'))).toBe(true);
    expect(f.misses.some((m) => m.includes('does not reproduce'))).toBe(true);
    expect(f.good.some((g) => g.includes("beats popularity's"))).toBe(true);
    expect(html).toContain('class="misses"');
  });

  it('the JSON summary carries the learning curve', () => {
    const s = evalSummary(worldReport()) as any;
    expect(s.learning_curve).toHaveLength(3);
    expect(Object.keys(s.learning_curve[0]).sort()).toEqual(
      expect.arrayContaining(['impressions', 'ctr_auc', 'revenue_per_slate', 'gap_closed', 'train_seconds', 'rows_per_second']),
    );
    expect(s.gap_closed).toEqual({ auc: -0.024, revenue: 0.145 });
    expect(s.ndcg10.logged).toBe(0.49);
    expect(s.auc.ctr.logged).toBe(0.6);
    expect(s.logloss.ctr.logged).toBeNull();
  });
});

describe('svg helpers', () => {
  it('ticks are round and cover the range', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.5, 0.77, 5)).toEqual([0.5, 0.55, 0.6, 0.65, 0.7, 0.75]);
    expect(logTicks(80_000, 3_750_000)).toEqual([100_000, 300_000, 1_000_000, 3_000_000]);
  });

  it('bar charts draw one bar per value and whiskers for intervals', () => {
    const svg = barChart({ title: 't', bars: [{ name: 'int8', label: 'a', value: 0.4, ci: [0.35, 0.45] }, { name: 'random', label: 'b', value: 0.2 }, { name: 'logged', label: 'c', value: null }], domain: [0, 1] });
    expect(svg.match(/<rect /g)).toHaveLength(2);
    // whisker: one horizontal line and two caps, only for the bar with an interval
    expect(svg.match(/stroke="#222"/g)).toHaveLength(3);
    expect(svg).toContain('0.400 [0.350, 0.450]');
    expect(svg).toContain('>n/a<');
  });

  it('line charts skip non-finite points and draw the diagonal on request', () => {
    const svg = lineChart({ title: 't', series: [{ name: 'int8', label: 'x', points: [{ x: 0.1, y: 0.1 }, { x: Number.NaN, y: 1 }, { x: 0.2, y: 0.25 }] }], xLabel: 'p', yLabel: 'o', xDomain: [0, 0.3], yDomain: [0, 0.3], diagonal: true });
    expect(svg.match(/<circle /g)).toHaveLength(2);
    expect(svg).toContain('stroke-dasharray="3 3"');
  });
});
