// The evaluation report as one self-contained HTML page: headline figures, what went well and what
// did not (derived from the intervals, not chosen by hand), ranking and ground-truth comparisons as
// bar charts with 95% whiskers, per-head tables, reliability curves, the learning curve, and the
// data, model and world settings the figures come from.
import type { EvalReport, LearningPoint, PolicyName, PolicyResult } from '../offline-eval.ts';
import { describeObjective } from '../offline-eval.ts';
import type { ReliabilityBin } from '../probabilistic-metrics.ts';
import { details, escapeHtml, figures, fmt, fmtCi, list, page, paragraph, pct, pre, raw, section, table, type Cell } from './html.ts';
import { barChart, colorOf, lineChart, type Series } from './svg.ts';

const get = (report: EvalReport, name: PolicyName): PolicyResult | undefined => report.policies.find((p) => p.name === name);

export interface Findings {
  good: string[];
  misses: string[];
}

const sign = (x: number, digits = 4) => `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`;

/** What the intervals say, phrased for the reader; misses are listed as prominently as wins. */
export function findings(report: EvalReport): Findings {
  const good: string[] = [];
  const misses: string[] = [];
  const k = report.k;
  for (const d of report.paired) {
    const [a, b] = d.name.split(' - ') as [string, string];
    const { mean, lo, hi } = d.ndcg;
    if (!Number.isFinite(mean)) continue;
    const text = `${sign(mean)} [${sign(lo)}, ${sign(hi)}]`;
    if (b === 'fp32') {
      if (hi < 0) misses.push(`int8 quantization costs NDCG@${k}: int8 - fp32 = ${text} (paired 95% interval).`);
      else if (lo > 0) good.push(`int8 is above fp32 on NDCG@${k}: ${text} (quantization noise in its favour).`);
      else good.push(`int8 and fp32 rank alike: NDCG@${k} difference ${text} includes 0.`);
      continue;
    }
    const label = b === 'logged' ? 'the logged order' : b;
    if (lo > 0) good.push(`The served int8 model beats ${label} on NDCG@${k}: ${text} (paired 95% interval).`);
    else if (hi < 0) misses.push(`The served int8 model is below ${label} on NDCG@${k}: ${text}.`);
    else misses.push(`The served int8 model is not distinguishable from ${label} on NDCG@${k}: difference ${text} includes 0.`);
    if (d.revenue) {
      const r = d.revenue;
      const rt = `${sign(r.mean, 3)} [${sign(r.lo, 3)}, ${sign(r.hi, 3)}]`;
      if (r.lo > 0) good.push(`Expected revenue per slate of the served order beats ${label}'s: ${rt} (paired 95% interval).`);
      else if (r.hi < 0) misses.push(`Expected revenue per slate of the served order is below ${label}'s: ${rt}.`);
      else misses.push(`Expected revenue per slate of the served order is not distinguishable from ${label}'s: ${rt}.`);
    }
  }
  const int8 = get(report, 'int8');
  const fp32 = get(report, 'fp32');
  const random = get(report, 'random');
  if (int8 && random && int8.ndcg.lo > random.ndcg.hi) good.push(`NDCG@${k} of the served model (${fmtCi(int8.ndcg.mean, [int8.ndcg.lo, int8.ndcg.hi])}) is clear of a random order's (${fmt(random.ndcg.mean)}).`);
  if (int8 && fp32) {
    for (const head of ['ctr', 'cvr'] as const) {
      const a = int8[head].auc;
      const b = fp32[head].auc;
      if (a !== null && b !== null && Math.abs(a - b) > 0.002) misses.push(`int8 and fp32 ${head.toUpperCase()} AUC differ by ${sign(a - b)}.`);
    }
  }
  if (report.world && int8) {
    const g = report.world.gap_closed;
    const gapText = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : 'n/a');
    const line = `the popularity-to-oracle gap: ${gapText(g.auc)} in expected CTR AUC, ${gapText(g.revenue)} in expected revenue per slate.`;
    if (g.auc > 0 && g.revenue > 0) good.push(`The served model closes ${line}`);
    else misses.push(`The served model does not close ${line}`);
    if (g.auc < 0.5 || g.revenue < 0.5) misses.push(`More than half of the popularity-to-oracle gap is still open (CTR AUC ${gapText(1 - g.auc)}, revenue ${gapText(1 - g.revenue)}).`);
    const rel = int8.ctr.reliability_vs_truth;
    if (rel && int8.ctr.ece_vs_truth !== null && int8.ctr.ece_vs_truth !== undefined) {
      const mean = rel.reduce((s, b) => s + b.count * b.meanObserved, 0) / rel.reduce((s, b) => s + b.count, 0);
      const ratio = int8.ctr.ece_vs_truth / mean;
      const text = `p_ctr against the true position-1 probability: ECE ${fmt(int8.ctr.ece_vs_truth)} (${(ratio * 100).toFixed(0)}% of the mean true probability ${fmt(mean)}).`;
      if (ratio > 0.1) misses.push(`Miscalibrated ${text}`);
      else good.push(`Calibrated ${text}`);
    }
    if (report.world.reproduction?.matches === false) misses.push('The regenerated world does not reproduce the validation set recorded in the manifest: the model was trained on a different world (see the notes).');
  }
  if (!report.world && int8 && int8.ctr.reliability) {
    const bins = int8.ctr.reliability;
    const n = bins.reduce((s, b) => s + b.count, 0);
    const observed = bins.reduce((s, b) => s + b.count * b.meanObserved, 0) / n;
    const predicted = bins.reduce((s, b) => s + b.count * b.meanPredicted, 0) / n;
    const ratio = predicted / observed;
    if (ratio > 1.5 || ratio < 1 / 1.5) {
      misses.push(
        `p_ctr averages ${fmt(predicted)} against a logged click rate of ${fmt(observed)} (${ratio.toFixed(1)}x; CTR ECE ${fmt(int8.ctr.ece)}). Part of it is by design (p_ctr is the position-1 probability, see the notes), but no ground truth here says how much: whatever uses p_ctr as a probability inherits it.`,
      );
    }
  }
  if (int8 && int8.cvr.reliability && int8.cvr.ece !== null) {
    const bins = int8.cvr.reliability;
    const n = bins.reduce((s, b) => s + b.count, 0);
    const observed = bins.reduce((s, b) => s + b.count * b.meanObserved, 0) / n;
    const predicted = bins.reduce((s, b) => s + b.count * b.meanPredicted, 0) / n;
    const text = `p_cvr on clicked rows: mean predicted ${fmt(predicted)} vs observed ${fmt(observed)}, ECE ${fmt(int8.cvr.ece)} over ${n} clicked rows.`;
    if (Math.abs(predicted / observed - 1) > 0.2) misses.push(`CVR off on average: ${text}`);
  }
  return { good, misses };
}

function headline(report: EvalReport): string {
  const boxes: [string, string][] = [];
  const int8 = get(report, 'int8');
  if (int8) boxes.push([fmtCi(int8.ndcg.mean, [int8.ndcg.lo, int8.ndcg.hi], 3), `NDCG@${report.k}, served int8`]);
  for (const name of ['logged', 'popularity', 'random'] as const) {
    const p = get(report, name);
    if (p) boxes.push([fmt(p.ndcg.mean, 3), `NDCG@${report.k}, ${p.label}`]);
  }
  if (report.world) {
    boxes.push([`${(report.world.gap_closed.auc * 100).toFixed(1)}%`, 'gap closed, expected CTR AUC']);
    boxes.push([`${(report.world.gap_closed.revenue * 100).toFixed(1)}%`, 'gap closed, revenue per slate']);
  }
  if (int8) boxes.push([fmt(int8.ctr.auc, 4), 'CTR AUC, int8 (logged clicks)']);
  return `<div class="headline">${boxes.map(([v, l]) => `<div><b>${escapeHtml(v)}</b><span>${escapeHtml(l)}</span></div>`).join('')}</div>`;
}

function ndcgChart(report: EvalReport): string {
  return barChart({
    title: `NDCG@${report.k} on ${report.data.slates} held-out slates (95% bootstrap interval)`,
    bars: report.policies.map((p) => ({ name: p.name, label: p.label, value: p.ndcg.mean, ci: [p.ndcg.lo, p.ndcg.hi] as const })),
    xLabel: `mean NDCG@${report.k} (relevance 5 = purchased, 1 = clicked)`,
    domain: [0, 1],
  });
}

function pairedTable(report: EvalReport): string {
  const world = report.paired.some((d) => d.revenue);
  return table(
    ['difference', `NDCG@${report.k}`, '95% interval', ...(world ? ['revenue per slate', '95% interval'] : [])],
    report.paired.map((d) => [
      d.name,
      sign(d.ndcg.mean),
      `[${sign(d.ndcg.lo)}, ${sign(d.ndcg.hi)}]`,
      ...(world ? [d.revenue ? sign(d.revenue.mean, 3) : null, d.revenue ? `[${sign(d.revenue.lo, 3)}, ${sign(d.revenue.hi, 3)}]` : null] : []),
    ]),
    { caption: `Paired bootstrap over the same slates (${report.bootstrap_samples.toLocaleString('en-US')} resamples): the 95% interval of the mean difference.` },
  );
}

function headTable(report: EvalReport): string {
  const world = Boolean(report.world);
  const headers = ['policy', 'CTR AUC', 'CTR logloss', 'CTR ECE', ...(world ? ['CTR AUC expected', 'CTR ECE vs truth'] : []), 'CVR AUC', 'CVR logloss', 'CVR ECE', ...(world ? ['CVR AUC expected', 'CVR ECE vs truth'] : [])];
  const rows = report.policies.map((p): Cell[] => [
    p.label,
    fmt(p.ctr.auc),
    fmt(p.ctr.logloss),
    fmt(p.ctr.ece),
    ...(world ? [fmt(p.ctr.auc_expected), fmt(p.ctr.ece_vs_truth)] : []),
    fmt(p.cvr.auc),
    fmt(p.cvr.logloss),
    fmt(p.cvr.ece),
    ...(world ? [fmt(p.cvr.auc_expected), fmt(p.cvr.ece_vs_truth)] : []),
  ]);
  return table(headers, rows, {
    caption: world
      ? 'CTR over all held-out rows, CVR over clicked rows, against the logged labels; "expected" and "vs truth" against the true probabilities (CTR at position 1, CVR over all rows).'
      : 'CTR over all rows, CVR over clicked rows, against the logged labels.',
  });
}

function worldSection(report: EvalReport): string {
  const w = report.world!;
  const withWorld = report.policies.filter((p) => p.world);
  const oracle = get(report, 'oracle');
  const aucChart = barChart({
    title: 'Expected CTR AUC at position 1 (vs the true click probability)',
    bars: withWorld.map((p) => ({ name: p.name, label: p.label, value: p.ctr.auc_expected ?? null })),
    domain: [0.5, Math.max(0.51, ...withWorld.map((p) => p.ctr.auc_expected ?? 0.5)) + 0.02],
    format: (x) => x.toFixed(4),
  });
  const revenueChart = barChart({
    title: 'Expected revenue per slate (95% bootstrap interval over slates)',
    bars: withWorld.map((p) => ({ name: p.name, label: p.label, value: p.world!.revenue_per_slate, ci: p.world!.revenue_per_slate_ci95 })),
    format: (x) => x.toFixed(3),
  });
  const clicksChart = barChart({
    title: 'Expected clicks per slate',
    bars: withWorld.map((p) => ({ name: p.name, label: p.label, value: p.world!.clicks_per_slate })),
    format: (x) => x.toFixed(3),
  });
  const gap = table(
    ['model', 'expected CTR AUC', 'revenue per slate'],
    [
      ['int8 (served)', pct(w.gap_closed.auc), pct(w.gap_closed.revenue)],
      ['fp32', pct(w.gap_closed_fp32.auc), pct(w.gap_closed_fp32.revenue)],
      ...(w.segment_ceiling ? [['segment-level ceiling', pct(w.segment_ceiling.gap_closed.auc), pct(w.segment_ceiling.gap_closed.revenue)] as Cell[]] : []),
    ],
    {
      caption:
        'gap_closed = (model - popularity) / (oracle - popularity): 0% is popularity, 100% the oracle, below 0% worse than popularity. The segment-level ceiling is the ground truth with every item\'s hidden values known and each user known only by segment (individual tastes, latent vector and price habits replaced by the segment\'s): what features revealing users only by segment could reach; closing more needs each user\'s own history.',
    },
  );
  const rows = withWorld.map((p): Cell[] => [
    p.label,
    fmt(p.ctr.auc_expected),
    fmt(p.cvr.auc_expected),
    fmt(p.world!.clicks_per_slate, 3),
    fmtCi(p.world!.revenue_per_slate, p.world!.revenue_per_slate_ci95, 3),
    oracle?.world ? pct(p.world!.revenue_per_slate / oracle.world.revenue_per_slate - 1) : null,
  ]);
  return section(
    'world',
    'Against the ground truth',
    paragraph('The world knows every true probability, so each policy can be scored without label noise: expected AUC against the true click (at position 1) and purchase probabilities, and the expected clicks and revenue of each held-out slate served in the policy\'s order, with the world\'s position bias.'),
    figures(aucChart, revenueChart),
    figures(clicksChart),
    table(['policy', 'CTR AUC expected', 'CVR AUC expected', 'clicks per slate', 'revenue per slate [95%]', 'revenue vs oracle'], rows),
    '<h3>Gap closed</h3>',
    gap,
  );
}

function reliabilitySeries(policies: readonly PolicyResult[], pick: (p: PolicyResult) => ReliabilityBin[] | null | undefined): Series[] {
  const out: Series[] = [];
  for (const p of policies) {
    const bins = pick(p);
    if (!bins || bins.length === 0) continue;
    if (p.name === 'random') continue; // one point at the base rate: clutter
    out.push({ name: p.name, label: p.label, points: bins.map((b) => ({ x: b.meanPredicted, y: b.meanObserved, note: `${p.label}: predicted ${b.meanPredicted.toFixed(4)}, observed ${b.meanObserved.toFixed(4)} (${b.count} rows)` })) });
  }
  return out;
}

function reliabilityChart(title: string, series: Series[], yLabel: string): string {
  let max = 0;
  for (const s of series) for (const p of s.points) max = Math.max(max, p.x, p.y);
  const top = max > 0 ? Math.min(1, max * 1.08) : 1;
  return lineChart({ title, series, xLabel: 'mean predicted probability (equal-mass bins)', yLabel, xDomain: [0, top], yDomain: [0, top], diagonal: true, width: 440, height: 380 });
}

function binsTable(title: string, bins: ReliabilityBin[] | null | undefined): string {
  if (!bins) return '';
  return details(
    title,
    table(
      ['bin', 'rows', 'predicted range', 'mean predicted', 'mean observed', 'observed / predicted'],
      bins.map((b, i) => [String(i + 1), String(b.count), `${b.lo.toFixed(4)} - ${b.hi.toFixed(4)}`, b.meanPredicted.toFixed(4), b.meanObserved.toFixed(4), b.meanPredicted > 0 ? (b.meanObserved / b.meanPredicted).toFixed(3) : null]),
    ),
  );
}

function calibrationSection(report: EvalReport): string {
  const shown = report.policies.filter((p) => p.name !== 'logged');
  const charts = [
    reliabilityChart('CTR vs logged clicks (all rows)', reliabilitySeries(shown, (p) => p.ctr.reliability), 'observed click rate'),
    reliabilityChart('CVR vs logged purchases (clicked rows)', reliabilitySeries(shown, (p) => p.cvr.reliability), 'observed purchases per click'),
  ];
  if (report.world) {
    const truth = shown.filter((p) => p.name !== 'oracle');
    charts.splice(1, 0, reliabilityChart('CTR vs true P(click at position 1)', reliabilitySeries(truth, (p) => p.ctr.reliability_vs_truth), 'mean true probability'));
    charts.push(reliabilityChart('CVR vs true P(purchase | click) (all rows)', reliabilitySeries(truth, (p) => p.cvr.reliability_vs_truth), 'mean true probability'));
  }
  const int8 = get(report, 'int8');
  return section(
    'calibration',
    'Calibration',
    paragraph(`Reliability curves with ${report.bins} equal-mass bins (each bin holds the same number of rows, sorted by the prediction): a calibrated model lies on the diagonal. ECE = sum over bins of (rows in bin / rows) x |mean predicted - mean observed|.`),
    figures(...charts),
    binsTable('int8: CTR bins vs logged clicks', int8?.ctr.reliability),
    report.world ? binsTable('int8: CTR bins vs the true position-1 probability', int8?.ctr.reliability_vs_truth) : '',
    binsTable('int8: CVR bins vs logged purchases (clicked rows)', int8?.cvr.reliability),
    report.world ? binsTable('int8: CVR bins vs the true probability', int8?.cvr.reliability_vs_truth) : '',
  );
}

export function learningCurveCharts(points: readonly LearningPoint[]): string[] {
  const xs = (f: (p: LearningPoint) => number) => points.map((p) => ({ x: p.impressions, y: f(p) }));
  const auc = lineChart({
    title: 'Expected CTR AUC by log size',
    series: [
      { name: 'int8', label: 'int8 (served)', points: xs((p) => p.ctr_auc) },
      { name: 'popularity', label: 'popularity', points: xs((p) => p.ctr_auc_popularity), dashed: true },
      { name: 'oracle', label: 'oracle', points: xs((p) => p.ctr_auc_oracle), dashed: true },
    ],
    xLabel: 'impressions in the log (log scale)',
    yLabel: 'expected CTR AUC',
    xScale: 'log',
  });
  const revenue = lineChart({
    title: 'Expected revenue per slate by log size',
    series: [
      { name: 'int8', label: 'int8 (served)', points: xs((p) => p.revenue_per_slate) },
      { name: 'popularity', label: 'popularity', points: xs((p) => p.revenue_per_slate_popularity), dashed: true },
      { name: 'oracle', label: 'oracle', points: xs((p) => p.revenue_per_slate_oracle), dashed: true },
    ],
    xLabel: 'impressions in the log (log scale)',
    yLabel: 'revenue per slate',
    xScale: 'log',
  });
  const gap = lineChart({
    title: 'Gap closed by log size',
    series: [
      { name: 'int8', label: 'expected CTR AUC', points: xs((p) => p.gap_closed.auc) },
      { name: 'revenue', label: 'revenue per slate', points: xs((p) => p.gap_closed.revenue), color: '#c0392b' },
    ],
    xLabel: 'impressions in the log (log scale)',
    yLabel: 'share of the popularity-oracle gap',
    xScale: 'log',
    references: [
      { value: 0, label: 'popularity', name: 'popularity' },
      { value: 1, label: 'oracle', name: 'oracle' },
    ],
  });
  return [auc, revenue, gap];
}

function learningCurveSection(points: readonly LearningPoint[]): string {
  return section(
    'learning-curve',
    'Learning curve',
    paragraph("One model per log size, each trained in-process on its own world (the preset's users, items and days, with the impressions overridden) and evaluated on that world's held-out days. Popularity and the oracle are measured on the same slates, so each point has its own references. Training times are the trainer's on this machine (see the setup section for its load)."),
    figures(...learningCurveCharts(points)),
    table(
      ['impressions', 'train rows', 'held-out slates', 'CTR AUC exp. (pop / oracle)', 'revenue per slate (pop / oracle)', `NDCG@10`, 'gap closed AUC', 'gap closed revenue', 'segment-level ceiling (AUC / revenue)', 'epochs (best)', 'train s', 'rows/s'],
      points.map((p) => [
        p.impressions.toLocaleString('en-US'),
        p.train_rows.toLocaleString('en-US'),
        String(p.slates),
        `${fmt(p.ctr_auc)} (${fmt(p.ctr_auc_popularity)} / ${fmt(p.ctr_auc_oracle)})`,
        `${fmt(p.revenue_per_slate, 3)} (${fmt(p.revenue_per_slate_popularity, 3)} / ${fmt(p.revenue_per_slate_oracle, 3)})`,
        fmt(p.ndcg10),
        pct(p.gap_closed.auc),
        pct(p.gap_closed.revenue),
        p.gap_closed_segment_ceiling ? `${pct(p.gap_closed_segment_ceiling.auc)} / ${pct(p.gap_closed_segment_ceiling.revenue)}` : 'n/a',
        `${p.epochs} (${p.best_epoch})`,
        p.train_seconds.toFixed(1),
        Math.round(p.rows_per_second).toLocaleString('en-US'),
      ]),
      { caption: 'Training time is the trainer\'s epochs, the teachers\' included when the model is distilled (validation passes excluded); rows/s = rows trained over all epochs / that time; epochs (best) are the served network\'s.' },
    ),
  );
}

function kvTable(entries: readonly [string, Cell][]): string {
  return table([], entries.map(([k, v]) => [k, v]), { className: 'kv' });
}

function setupSection(report: EvalReport): string {
  const parts: string[] = [];
  parts.push('<h3>Model</h3>');
  parts.push(
    kvTable([
      ['id@version', `${report.model.id}@${report.model.version}`],
      ['source', report.model.source === 'artifact' ? `artifact directory ${report.model.dir}` : `trained by this run${report.model.dir ? `, written to ${report.model.dir}` : ''}`],
      ['served order', describeObjective(report.model.objective)],
      ['description', report.model.description],
    ]),
  );
  if (report.training) {
    const t = report.training;
    parts.push('<h3>Training</h3>');
    parts.push(
      kvTable([
        ['training rows', t.train_rows.toLocaleString('en-US')],
        ['teachers', t.teachers > 0 ? `${t.teachers} networks trained on the logged labels; the served network is trained on their mean predictions` : 'none: trained on the logged labels'],
        ['epochs (best)', `${t.epochs} (${t.best_epoch})${t.teachers > 0 ? ' of the served network' : ''}`],
        ['trainer time', `${t.seconds.toFixed(1)} s (${Math.round(t.rows_per_second).toLocaleString('en-US')} rows/s over ${t.rows.toLocaleString('en-US')} rows)`],
        ['whole run', `${t.wall_seconds.toFixed(1)} s (features, training, export, metrics)`],
      ]),
    );
  }
  if (report.machine && (report.training || report.learning_curve)) {
    const m = report.machine;
    parts.push(paragraph(`Timings taken on ${m.cpus} CPU${m.cpus === 1 ? '' : 's'} (${m.cpu_model}), Node ${m.node}, 1-minute load average ${m.load_average_at_start} when the run started: other work on the machine slows them.`));
  }
  parts.push('<h3>Held-out data</h3>');
  parts.push(
    kvTable([
      ['slates', report.data.description],
      ['size', `${report.data.slates.toLocaleString('en-US')} slates, ${report.data.rows.toLocaleString('en-US')} rows, ${report.data.clicks.toLocaleString('en-US')} clicks, ${report.data.purchases.toLocaleString('en-US')} purchases`],
      ['popularity and base rates from', report.data.training_window],
    ]),
  );
  parts.push('<h3>Policies</h3>');
  parts.push(table(['policy', 'what it is'], report.policies.map((p) => [raw(`<span style="color:${colorOf(p.name)}">&#9632;</span> ${escapeHtml(p.label)}`), p.description]), { className: 'kv' }));
  if (report.schema) {
    parts.push('<h3>Dataset</h3>');
    parts.push(kvTable([['schema', report.schema.name], ['description', report.schema.description], ['provenance', report.schema.provenance], ['evaluated splits', report.schema.splits.join(' + ')]]));
  }
  if (report.world) {
    const d = report.world.description as {
      version?: string;
      settings?: Record<string, unknown>;
      window?: { start: string; end: string };
      trained_on?: unknown;
      groundTruth?: { pClick?: string; pPurchaseGivenClick?: string; examination?: { form: string; exponent: number; firstPositions: number[] } };
    };
    parts.push('<h3>World</h3>');
    const s = d.settings ?? {};
    const ex = d.groundTruth?.examination;
    parts.push(
      kvTable([
        ['world code', d.version ?? null],
        ['settings (world.describe())', Object.entries(s).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(', ')],
        ['model trained on (manifest.training.world)', d.trained_on === undefined ? null : JSON.stringify(d.trained_on)],
        ['log window', d.window ? `${d.window.start} to ${d.window.end}` : null],
        ['P(click)', d.groundTruth?.pClick ?? null],
        ['P(purchase | click)', d.groundTruth?.pPurchaseGivenClick ?? null],
        ['examination', ex ? `${ex.form}, exponent ${ex.exponent}; positions 1, 2, 3, 5, 10, 20, 30: ${ex.firstPositions.join(', ')}` : null],
      ]),
    );
    const rep = report.world.reproduction;
    if (rep) {
      parts.push(
        kvTable([
          ['reproduces the manifest\'s validation set?', rep.matches === null ? 'not recorded' : rep.matches ? 'yes' : 'NO'],
          ['rows (here / manifest)', `${rep.rows} / ${rep.manifest_rows ?? 'n/a'}`],
          ['int8 CTR AUC, batch-scored as the trainer does (here / manifest)', `${rep.batch_ctr_auc.toFixed(5)} / ${rep.manifest_ctr_auc ?? 'n/a'}`],
        ]),
      );
    }
    parts.push(details('world.describe() in full', pre(JSON.stringify(report.world.description, null, 2))));
  }
  return section('setup', 'Data, model and settings', ...parts);
}

function definitions(report: EvalReport): string {
  const items = [
    `NDCG@${report.k}: DCG of the policy's top ${report.k} (gain = relevance, discount 1/log2(rank + 1)) over the best possible DCG of the slate; relevance 5 = purchased, 1 = clicked only, 0 otherwise. Slates without a click are left out. Ties count in expectation, so a random order is exact, not sampled. Intervals: percentile bootstrap over slates (${report.bootstrap_samples.toLocaleString('en-US')} resamples, seeded).`,
    'AUC: probability that a clicked row scores above an unclicked one (CTR, all rows), or a purchased one above a clicked-not-purchased one (CVR, clicked rows). Logloss: mean binary cross-entropy.',
    `Calibration: reliability curve with ${report.bins} equal-mass bins; ECE = sum over bins of (rows in bin / rows) x |mean predicted - mean observed|.`,
  ];
  if (report.world) {
    items.push(
      'Expected AUC: the AUC expected when every row is a positive with its true probability (CTR: at position 1), counting every pair of rows; free of label noise.',
      "Expected clicks and revenue per slate: sum over positions of examination(position) x P(click at 1) [x P(purchase | click) x price] for the items in the policy's order. Random: every position equally likely.",
      'gap_closed: (model - popularity) / (oracle - popularity), on expected CTR AUC and on expected revenue per slate.',
    );
  }
  return section('definitions', 'Definitions', list(items));
}

export function renderReport(report: EvalReport): string {
  const title = `Offline evaluation: ${report.model.id}@${report.model.version} on ${report.dataset === 'world' ? 'the synthetic world' : report.dataset}`;
  const subtitle = `Generated ${report.generated_at} by \`${report.command}\`; ${report.data.slates.toLocaleString('en-US')} held-out slates, ${report.data.rows.toLocaleString('en-US')} rows.`;
  const f = findings(report);
  const body = [
    headline(report),
    section(
      'findings',
      'What the numbers say',
      f.good.length ? `<h3>Holds up</h3>${list(f.good, 'good')}` : '',
      f.misses.length ? `<h3>Misses and open questions</h3>${list(f.misses, 'misses')}` : '<p>No miss flagged by the automatic checks.</p>',
      `<h3>Read with care</h3>${list(report.notes)}`,
    ),
    // A learning-curve run is about the curve: it comes first.
    report.learning_curve && report.learning_curve.length > 0 ? learningCurveSection(report.learning_curve) : '',
    section('ranking', 'Ranking quality', figures(ndcgChart(report)), pairedTable(report)),
    report.world ? worldSection(report) : '',
    section('heads', 'Per-head metrics', headTable(report)),
    calibrationSection(report),
    setupSection(report),
    definitions(report),
  ].join('\n');
  return page(title, subtitle, body);
}
