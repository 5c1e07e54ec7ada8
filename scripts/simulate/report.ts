// The simulator's HTML report: one self-contained page per run (the evaluation report's building
// blocks: tables, SVG bar charts with 95% whiskers, no external resources), written next to the
// run's summary.json so a run can be read and linked without the terminal output.
import type { RetrainReport } from './retrain.ts';
import type { Analysis } from './analyze.ts';
import { figures, fmt, fmtCi, page, paragraph, pct, section, table } from '../../model/eval/report/html.ts';
import { barChart, type Bar } from '../../model/eval/report/svg.ts';

export interface SimulationSummary {
  scenario: string;
  run: string;
  requests: number;
  failed_requests: number;
  exposure_rows: number;
  control: string;
  arms: Analysis['arms'];
  lift: Analysis['lift'];
  interleaving?: Analysis['interleaving'];
  retrain?: RetrainReport;
  model: { id: string; version: string };
  world: { name: string; seed: number; version: unknown };
  seconds: number;
}

/** Bar colours (svg.ts colours by policy name): the control orange, model arms blue, others purple. */
function armKey(name: string, control: string): string {
  return name === control ? 'popularity' : name.startsWith('model') ? 'int8' : name;
}

function armBars(summary: SimulationSummary, value: (a: Analysis['arms'][string]) => { v: number; ci: [number, number] }): Bar[] {
  return Object.entries(summary.arms).map(([name, arm]) => {
    const { v, ci } = value(arm);
    return { name: armKey(name, summary.control), label: name, value: v, ci };
  });
}

function liftSection(summary: SimulationSummary): string {
  const rows = Object.entries(summary.lift).map(([name, l]) => [
    name,
    `${pct(l.revenue)} [${pct(l.revenue_ci95[0])}, ${pct(l.revenue_ci95[1])}]`,
    l.revenue_p_value.toExponential(2),
    l.revenue_significant ? 'yes' : 'no',
    `${pct(l.ctr)} [${pct(l.ctr_ci95[0])}, ${pct(l.ctr_ci95[1])}]`,
    `${pct(l.cvr)} [${pct(l.cvr_ci95[0])}, ${pct(l.cvr_ci95[1])}]`,
    l.expected_revenue !== undefined ? pct(l.expected_revenue) : null,
  ]);
  if (rows.length === 0) return '';
  return section(
    'lift',
    `Lift over the control (${summary.control})`,
    table(['arm', 'revenue / request [95% CI]', 'p', 'significant at 95%', 'CTR [95% CI]', 'CVR [95% CI]', 'ground-truth expected revenue'], rows),
    paragraph('Intervals: bootstrap over requests (the unit of randomisation). The last column is the lift of the ground truth\'s expected revenue of the served orders - what the lift would be without click and purchase noise.'),
  );
}

function interleavingSection(summary: SimulationSummary): string {
  const i = summary.interleaving;
  if (!i) return '';
  return section(
    'interleaving',
    `Team-draft interleaving: ${i.a} vs ${i.b}`,
    table(
      [],
      [
        ['interleaved requests', i.requests],
        ['requests with clicks', i.with_clicks],
        [`${i.a} won / ${i.b} won / ties`, `${i.wins_a} / ${i.wins_b} / ${i.ties}`],
        [`preference for ${i.a} [95% CI]`, fmtCi(i.preference_a, i.preference_a_ci95, 3)],
        ['sign test p', i.p_value.toExponential(2)],
        [`click share of ${i.a}`, `${fmt(i.click_share_a, 3)} (${i.clicks_a} vs ${i.clicks_b} clicks)`],
      ],
    ),
    i.by_revenue
      ? table(
          [],
          [
            ['by purchased revenue: requests with purchases', i.by_revenue.with_purchases],
            [`revenue share of ${i.a} [95% CI]`, `${fmtCi(i.by_revenue.revenue_share_a, i.by_revenue.revenue_share_a_ci95, 3)} (${i.by_revenue.revenue_a.toFixed(0)} vs ${i.by_revenue.revenue_b.toFixed(0)})`],
            [`${i.a} - ${i.b} revenue per request [95% CI]`, fmtCi(i.by_revenue.mean_difference, i.by_revenue.mean_difference_ci95, 3)],
            ['paired z-test p', i.by_revenue.p_value.toExponential(2)],
          ],
        )
      : '',
    paragraph('Clicks: a request is won by the side whose items got more clicks; ties and requests without clicks are left out; p is the exact two-sided sign test of the wins. Revenue: each side\'s share of the purchased revenue and the paired test of the per-request difference over all interleaved requests.'),
  );
}

function retrainSection(r: RetrainReport | undefined): string {
  if (!r) return '';
  return section(
    'retrain',
    'Retrained on this run\'s exposure log',
    paragraph(`${r.model.id}@${r.model.version}: ${r.train_rows} logged impressions (${r.train_slates} slates), best epoch ${r.best_epoch} of ${r.epochs_run}; compared on the ${r.holdout_slates} held-out last requests by the ground truth's expected revenue of each model's order.`),
    table(
      ['model', 'expected revenue / request [95% CI]', 'CTR AUC', 'CTCVR AUC'],
      [
        ['shipped', fmtCi(r.shipped.expected_revenue_per_request, r.shipped.expected_revenue_ci95, 3), fmt(r.shipped.ctr_auc), fmt(r.shipped.ctcvr_auc)],
        ['retrained', fmtCi(r.retrained.expected_revenue_per_request, r.retrained.expected_revenue_ci95, 3), fmt(r.retrained.ctr_auc), fmt(r.retrained.ctcvr_auc)],
        ['as served', fmt(r.served_expected_revenue_per_request, 3), null, null],
        ['oracle', fmt(r.oracle_expected_revenue_per_request, 3), null, null],
      ],
    ),
    paragraph(`Retrained vs shipped: ${pct(r.revenue_diff)} [${pct(r.revenue_diff_ci95[0])}, ${pct(r.revenue_diff_ci95[1])}] (paired bootstrap): ${r.better ? 'better' : r.at_least_as_good ? 'at least as good (non-inferior within 1%)' : 'not shown to be as good'}.`),
  );
}

export function renderSimulationReport(summary: SimulationSummary): string {
  const money = (x: number) => x.toFixed(2);
  const rate = (x: number) => x.toFixed(4);
  const charts = [
    barChart({ title: 'Revenue per request', bars: armBars(summary, (a) => ({ v: a.revenue_per_request, ci: a.revenue_per_request_ci95 })), format: money, xLabel: 'purchased price per request, 95% CI' }),
    barChart({ title: 'CTR', bars: armBars(summary, (a) => ({ v: a.ctr, ci: a.ctr_ci95 })), format: rate, xLabel: 'clicks / impressions, 95% CI' }),
    barChart({ title: 'CVR', bars: armBars(summary, (a) => ({ v: a.cvr, ci: a.cvr_ci95 })), format: rate, xLabel: 'purchases / clicks, 95% CI' }),
  ];
  const armRows = Object.entries(summary.arms).map(([name, a]) => [
    name === summary.control ? `${name} (control)` : name,
    a.requests,
    a.impressions,
    a.clicks,
    a.purchases,
    fmtCi(a.ctr, a.ctr_ci95),
    fmtCi(a.cvr, a.cvr_ci95),
    fmtCi(a.revenue_per_request, a.revenue_per_request_ci95, 2),
    a.expected_revenue_per_request !== undefined ? fmt(a.expected_revenue_per_request, 2) : null,
  ]);
  const body = [
    section(
      'arms',
      'Per arm',
      paragraph(`Control: ${summary.control} (orange). Whiskers: 95% intervals, bootstrap over requests.`),
      figures(...charts),
      table(['arm', 'requests', 'impressions', 'clicks', 'purchases', 'CTR [95% CI]', 'CVR [95% CI]', 'revenue / request [95% CI]', 'expected revenue / request'], armRows),
    ),
    liftSection(summary),
    interleavingSection(summary),
    retrainSection(summary.retrain),
    section(
      'how',
      'How this was measured',
      paragraph(`Users of the synthetic world ${summary.world.name} (seed ${summary.world.seed}) sent ${summary.requests} rank requests over HTTP to the worker on workerd (${summary.failed_requests} failed); the worker assigned arms, ranked and wrote ${summary.exposure_rows} exposure rows; clicks and purchases were drawn from the world's ground truth at the positions served; the analysis joins the exposure log with those outcomes. Model ${summary.model.id}@${summary.model.version}; the run took ${summary.seconds} s.`),
    ),
  ];
  return page(`Simulated experiment: ${summary.scenario}`, `run ${summary.run}`, body.join('\n'));
}
