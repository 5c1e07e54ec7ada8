// The one-line JSON summary `npm run eval -- --json` prints last. Release checks read these names:
// keep them stable (add fields, never rename). Numbers are rounded to 5 decimals; a metric a policy
// does not have (the logged order has no probabilities) is null.
import type { EvalReport, PolicyName, PolicyResult } from './offline-eval.ts';

const r5 = (x: number | null | undefined): number | null => (x === null || x === undefined || !Number.isFinite(x) ? null : Number(x.toFixed(5)));

function byPolicy(report: EvalReport, value: (p: PolicyResult) => number | null | undefined): Partial<Record<PolicyName, number | null>> {
  return Object.fromEntries(report.policies.map((p) => [p.name, r5(value(p))]));
}

function ciByPolicy(report: EvalReport, value: (p: PolicyResult) => readonly [number, number] | null | undefined): Partial<Record<PolicyName, [number | null, number | null] | null>> {
  return Object.fromEntries(
    report.policies.map((p) => {
      const ci = value(p);
      return [p.name, ci ? [r5(ci[0]), r5(ci[1])] : null];
    }),
  );
}

export interface SummaryExtras {
  report?: string | null;
  png?: string | null;
}

export function evalSummary(report: EvalReport, extras: SummaryExtras = {}): Record<string, unknown> {
  const summary: Record<string, unknown> = {
    dataset: report.dataset,
    model: { id: report.model.id, version: report.model.version, source: report.model.source, dir: report.model.dir },
    slates: report.data.slates,
    rows: report.data.rows,
    k: report.k,
    bootstrap_samples: report.bootstrap_samples,
    ndcg10: byPolicy(report, (p) => p.ndcg.mean),
    ndcg10_ci95: ciByPolicy(report, (p) => [p.ndcg.lo, p.ndcg.hi]),
    ndcg10_diff: Object.fromEntries(report.paired.map((d) => [d.name.replace(/ /g, ''), { mean: r5(d.ndcg.mean), ci95: [r5(d.ndcg.lo), r5(d.ndcg.hi)] }])),
    auc: { ctr: byPolicy(report, (p) => p.ctr.auc), cvr: byPolicy(report, (p) => p.cvr.auc) },
    logloss: { ctr: byPolicy(report, (p) => p.ctr.logloss), cvr: byPolicy(report, (p) => p.cvr.logloss) },
    ece: { ctr: byPolicy(report, (p) => p.ctr.ece), cvr: byPolicy(report, (p) => p.cvr.ece) },
  };
  if (report.world) {
    const oracle = report.policies.find((p) => p.name === 'oracle');
    const policies = report.policies.filter((p) => p.world);
    summary.auc_expected = { ctr: byPolicy(report, (p) => p.ctr.auc_expected), cvr: byPolicy(report, (p) => p.cvr.auc_expected) };
    summary.ece_vs_truth = { ctr: byPolicy(report, (p) => p.ctr.ece_vs_truth), cvr: byPolicy(report, (p) => p.cvr.ece_vs_truth) };
    summary.oracle = oracle
      ? {
          ctr_auc_expected: r5(oracle.ctr.auc_expected),
          cvr_auc_expected: r5(oracle.cvr.auc_expected),
          ndcg10: r5(oracle.ndcg.mean),
          clicks_per_slate: r5(oracle.world?.clicks_per_slate),
          revenue_per_slate: r5(oracle.world?.revenue_per_slate),
        }
      : null;
    summary.clicks_per_slate = Object.fromEntries(policies.map((p) => [p.name, r5(p.world!.clicks_per_slate)]));
    summary.revenue_per_slate = Object.fromEntries(policies.map((p) => [p.name, r5(p.world!.revenue_per_slate)]));
    summary.revenue_per_slate_ci95 = Object.fromEntries(policies.map((p) => [p.name, p.world!.revenue_per_slate_ci95.map(r5)]));
    summary.revenue_per_slate_diff = Object.fromEntries(
      report.paired.filter((d) => d.revenue).map((d) => [d.name.replace(/ /g, ''), { mean: r5(d.revenue!.mean), ci95: [r5(d.revenue!.lo), r5(d.revenue!.hi)] }]),
    );
    summary.gap_closed = { auc: r5(report.world.gap_closed.auc), revenue: r5(report.world.gap_closed.revenue) };
    summary.gap_closed_fp32 = { auc: r5(report.world.gap_closed_fp32.auc), revenue: r5(report.world.gap_closed_fp32.revenue) };
    const ceiling = report.world.segment_ceiling;
    if (ceiling) summary.gap_closed_segment_ceiling = { auc: r5(ceiling.gap_closed.auc), revenue: r5(ceiling.gap_closed.revenue) };
    const description = report.world.description as { version?: unknown; settings?: unknown; trained_on?: unknown };
    summary.world = { version: description.version ?? null, settings: description.settings ?? null, trained_on: description.trained_on ?? null };
    const rep = report.world.reproduction;
    summary.reproduction = rep ? { ...rep, manifest_ctr_auc: r5(rep.manifest_ctr_auc), batch_ctr_auc: r5(rep.batch_ctr_auc) } : null;
  }
  if (report.training) {
    const t = report.training;
    summary.training = { seconds: r5(t.seconds), rows: t.rows, rows_per_second: Math.round(t.rows_per_second), train_rows: t.train_rows, epochs: t.epochs, best_epoch: t.best_epoch, wall_seconds: r5(t.wall_seconds) };
  }
  if (report.learning_curve) {
    summary.learning_curve = report.learning_curve.map((p) => ({
      impressions: p.impressions,
      slates: p.slates,
      train_rows: p.train_rows,
      ctr_auc: r5(p.ctr_auc),
      ctr_auc_popularity: r5(p.ctr_auc_popularity),
      ctr_auc_oracle: r5(p.ctr_auc_oracle),
      revenue_per_slate: r5(p.revenue_per_slate),
      revenue_per_slate_popularity: r5(p.revenue_per_slate_popularity),
      revenue_per_slate_oracle: r5(p.revenue_per_slate_oracle),
      ndcg10: r5(p.ndcg10),
      gap_closed: { auc: r5(p.gap_closed.auc), revenue: r5(p.gap_closed.revenue) },
      ...(p.gap_closed_segment_ceiling ? { gap_closed_segment_ceiling: { auc: r5(p.gap_closed_segment_ceiling.auc), revenue: r5(p.gap_closed_segment_ceiling.revenue) } } : {}),
      train_seconds: r5(p.train_seconds),
      rows_per_second: Math.round(p.rows_per_second),
      epochs: p.epochs,
      best_epoch: p.best_epoch,
    }));
  }
  if (report.machine) summary.machine = report.machine;
  summary.report = extras.report ?? null;
  summary.png = extras.png ?? null;
  return summary;
}
