// The shared core of `npm run eval`: a ranking policy's scores on held-out slates -> per-head AUC,
// logloss and calibration against the logged labels, and NDCG@k of the order it serves with a
// bootstrap interval. The world (evaluate-world.ts) adds ground-truth metrics on top; the
// schema-described datasets (evaluate-dataset.ts) use this as is.
//
// Scoring is one onnxruntime run per slate, as the worker scores a request: the int8 graph's
// dynamic quantization picks one scale per input tensor, so a row's int8 score depends on the other
// rows of its batch and only slate-sized batches reproduce the served scores.
import type { LabelledSlate } from '../dataset/slates.ts';
import type { Manifest, Objective } from '../features/manifest.ts';
import { auc, logloss } from '../train/metrics.ts';
import { objectiveScores } from '../../worker/rank/objective.ts';
import { reliability, type ReliabilityBin } from './probabilistic-metrics.ts';
import { bootstrapMeanCI, ndcgAtK, pairedBootstrapCI, slateRelevance, type Interval, type RelevanceGrades, DEFAULT_GRADES } from './ranking-metrics.ts';

export type PolicyName = 'int8' | 'fp32' | 'popularity' | 'logged' | 'random' | 'oracle';

/** Report and JSON order. */
export const POLICY_ORDER: readonly PolicyName[] = ['int8', 'fp32', 'popularity', 'logged', 'random', 'oracle'];

/** One ranking policy's scores for every row of the evaluated slates (slates concatenated). */
export interface PolicyInput {
  name: PolicyName;
  label: string;
  /** how its scores were made, for the report */
  description: string;
  /** P(click) per row, for logloss and calibration; null when the policy has no probability */
  pCtr: ArrayLike<number> | null;
  /** what CTR AUC ranks by (default pCtr) */
  ctrScore?: ArrayLike<number>;
  /** P(purchase | click) per row; null when the policy has none */
  pCvr: ArrayLike<number> | null;
  /** the order the policy serves (descending); ties count in expectation for NDCG */
  rankScore: ArrayLike<number>;
}

export interface HeadResult {
  /** against the logged labels (CVR: over clicked rows) */
  auc: number | null;
  logloss: number | null;
  /** expected calibration error against the logged labels, equal-mass bins */
  ece: number | null;
  reliability: ReliabilityBin[] | null;
  /** world only: expected AUC against the true probability (CTR: at position 1) */
  auc_expected?: number | null;
  /** world only: calibration against the true probability */
  ece_vs_truth?: number | null;
  reliability_vs_truth?: ReliabilityBin[] | null;
}

export interface IntervalResult {
  mean: number;
  lo: number;
  hi: number;
  /** slates with a relevant item (NDCG) or slates (revenue) */
  n: number;
}

export interface WorldPolicyResult {
  clicks_per_slate: number;
  revenue_per_slate: number;
  revenue_per_slate_ci95: [number, number];
}

export interface PolicyResult {
  name: PolicyName;
  label: string;
  description: string;
  ctr: HeadResult;
  cvr: HeadResult;
  ndcg: IntervalResult;
  world?: WorldPolicyResult;
}

export interface PairedResult {
  /** e.g. int8 - popularity */
  name: string;
  ndcg: IntervalResult;
  /** world only: expected revenue per slate */
  revenue?: IntervalResult;
}

export interface LearningPoint {
  impressions: number;
  slates: number;
  train_rows: number;
  ctr_auc: number;
  ctr_auc_popularity: number;
  ctr_auc_oracle: number;
  revenue_per_slate: number;
  revenue_per_slate_popularity: number;
  revenue_per_slate_oracle: number;
  ndcg10: number;
  gap_closed: { auc: number; revenue: number };
  /** the segment-level ceiling's gap closed on the same slates (absent in reports made before it) */
  gap_closed_segment_ceiling?: { auc: number; revenue: number };
  train_seconds: number;
  rows_per_second: number;
  epochs: number;
  best_epoch: number;
}

export interface TrainingInfo {
  /** trainer time over all epochs, the teachers' included (validation passes excluded) */
  seconds: number;
  /** rows trained on, summed over epochs (the teachers' included) */
  rows: number;
  rows_per_second: number;
  /** rows of the training set */
  train_rows: number;
  /** the served network's epochs */
  epochs: number;
  best_epoch: number;
  /** networks it was distilled from (0: trained on the logged labels) */
  teachers: number;
  /** wall time of the whole training run (features, training, export, metrics) */
  wall_seconds: number;
}

export interface EvalReport {
  /** 'world' or the schema's name */
  dataset: string;
  generated_at: string;
  command: string;
  model: {
    id: string;
    version: string;
    /** 'artifact': an existing artifact directory; 'trained': trained by this run */
    source: 'artifact' | 'trained';
    dir: string | null;
    objective: Objective;
    description: string | null;
  };
  data: {
    /** what the held-out slates are */
    description: string;
    slates: number;
    rows: number;
    clicks: number;
    purchases: number;
    /** what the popularity prior and the base rates were computed on */
    training_window: string;
  };
  k: number;
  bins: number;
  bootstrap_samples: number;
  policies: PolicyResult[];
  paired: PairedResult[];
  world?: {
    description: unknown;
    gap_closed: { auc: number; revenue: number };
    gap_closed_fp32: { auc: number; revenue: number };
    /**
     * The segment-level ceiling (model/world/segment-truth.ts): every item's hidden values known,
     * users known only by segment. Its gap closed is what features revealing users only by segment
     * could reach; beyond it a model must learn each user's own tastes from their history.
     */
    segment_ceiling?: { ctr_auc_expected: number; revenue_per_slate: number; gap_closed: { auc: number; revenue: number } };
    /** does the regenerated world reproduce the validation set recorded in the manifest? */
    reproduction: { manifest_rows: number | null; rows: number; manifest_ctr_auc: number | null; batch_ctr_auc: number; matches: boolean | null } | null;
  };
  schema?: { name: string; description: string; provenance: string | null; splits: string[] };
  training?: TrainingInfo;
  learning_curve?: LearningPoint[];
  /** where the timings were taken */
  machine?: { cpus: number; cpu_model: string; node: string; load_average_at_start: number };
  /** caveats the reader needs (always rendered) */
  notes: string[];
}

// ---------------------------------------------------------------------------------------------
// Scores
// ---------------------------------------------------------------------------------------------

/** Row prices as the worker reads them: inline price, else the stored record's, else NaN. */
export function slatePrices(slate: LabelledSlate): Float64Array {
  return Float64Array.from(slate.items, (item) => {
    const price = item.inline?.price ?? item.stored?.price;
    return typeof price === 'number' && Number.isFinite(price) && price >= 0 ? price : Number.NaN;
  });
}

/** The served score (the manifest's objective over p_ctr, p_cvr and price) of every row. */
export function servedScores(slates: readonly LabelledSlate[], pCtr: Float32Array, pCvr: Float32Array, objective: Objective): Float64Array {
  const rows = slates.reduce((n, s) => n + s.items.length, 0);
  const out = new Float64Array(rows);
  let row = 0;
  for (const slate of slates) {
    const n = slate.items.length;
    out.set(objectiveScores(objective, pCtr.subarray(row, row + n), pCvr.subarray(row, row + n), slatePrices(slate)), row);
    row += n;
  }
  return out;
}

/** Logged positions as a score (position 1 highest). */
export function loggedOrderScores(slates: readonly LabelledSlate[]): Float64Array {
  return Float64Array.from(slates.flatMap((s) => Array.from(s.positions, (p) => -p)));
}

export interface ItemPopularity {
  /** smoothed click-through rate: (clicks + m * ctr) / (shown + m) */
  ctr(itemId: string): number;
  /** smoothed purchases per click: (purchases + m * cvr) / (clicks + m) */
  cvr(itemId: string): number;
  /** the window's base rates */
  baseCtr: number;
  baseCvr: number;
  rows: number;
}

/**
 * Item popularity over a training window. The CTR is the same smoothed estimate as
 * train-dataset's popularityPrior (m = 20 pseudo-impressions at the window's CTR).
 */
export function itemPopularity(rows: Iterable<{ id: string; click: number; purchase: number }>, m = 20): ItemPopularity {
  const shown = new Map<string, number>();
  const clicked = new Map<string, number>();
  const bought = new Map<string, number>();
  let n = 0;
  let clicks = 0;
  let purchases = 0;
  for (const r of rows) {
    shown.set(r.id, (shown.get(r.id) ?? 0) + 1);
    clicked.set(r.id, (clicked.get(r.id) ?? 0) + r.click);
    bought.set(r.id, (bought.get(r.id) ?? 0) + r.purchase);
    n++;
    clicks += r.click;
    purchases += r.purchase;
  }
  const baseCtr = n === 0 ? 0 : clicks / n;
  const baseCvr = clicks === 0 ? 0 : purchases / clicks;
  return {
    ctr: (id) => ((clicked.get(id) ?? 0) + m * baseCtr) / ((shown.get(id) ?? 0) + m),
    cvr: (id) => ((bought.get(id) ?? 0) + m * baseCvr) / ((clicked.get(id) ?? 0) + m),
    baseCtr,
    baseCvr,
    rows: n,
  };
}

/** The rows of labelled slates, for itemPopularity. */
export function* slateRows(slates: Iterable<LabelledSlate>): Generator<{ id: string; click: number; purchase: number }> {
  for (const s of slates) for (let i = 0; i < s.items.length; i++) yield { id: s.items[i]!.id, click: s.clicks[i]!, purchase: s.purchases[i]! };
}

/** The popularity and random baselines and the logged order, as policies. */
export function baselinePolicies(slates: readonly LabelledSlate[], popularity: ItemPopularity, window: string): PolicyInput[] {
  const ids = slates.flatMap((s) => s.items.map((item) => item.id));
  const popCtr = Float64Array.from(ids, (id) => popularity.ctr(id));
  const popCvr = Float64Array.from(ids, (id) => popularity.cvr(id));
  const logged = loggedOrderScores(slates);
  return [
    {
      name: 'popularity',
      label: 'popularity',
      description: `each item's smoothed click-through rate over ${window} (20 pseudo-impressions at the window's CTR); p_cvr its smoothed purchases per click`,
      pCtr: popCtr,
      pCvr: popCvr,
      rankScore: popCtr,
    },
    {
      name: 'logged',
      label: 'logged order',
      description: 'the order the logging system showed (position 1 first); it has no probabilities, so AUC only (of -position)',
      pCtr: null,
      ctrScore: logged,
      pCvr: null,
      rankScore: logged,
    },
    {
      name: 'random',
      label: 'random',
      description: `uniformly random order, exact expectation (every item tied); as probabilities the base rates of ${window}, so its logloss is the entropy of a constant guess`,
      pCtr: new Float64Array(ids.length).fill(popularity.baseCtr),
      pCvr: new Float64Array(ids.length).fill(popularity.baseCvr),
      rankScore: new Float64Array(ids.length),
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

export interface LabelledRows {
  click: Uint8Array;
  purchase: Uint8Array;
}

export function rowsOf(slates: readonly LabelledSlate[]): LabelledRows {
  const rows = slates.reduce((n, s) => n + s.items.length, 0);
  const click = new Uint8Array(rows);
  const purchase = new Uint8Array(rows);
  let row = 0;
  for (const s of slates) {
    click.set(s.clicks, row);
    purchase.set(s.purchases, row);
    row += s.items.length;
  }
  return { click, purchase };
}

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

export function toInterval(i: Interval): IntervalResult {
  return { mean: i.mean, lo: i.lo, hi: i.hi, n: i.n };
}

/** NDCG@k per slate of ranking each slate by the rows' scores (NaN for slates with no relevant item). */
export function ndcgBySlate(slates: readonly LabelledSlate[], scores: ArrayLike<number>, k: number, grades: RelevanceGrades = DEFAULT_GRADES): Float64Array {
  const out = new Float64Array(slates.length);
  let row = 0;
  slates.forEach((s, j) => {
    const n = s.items.length;
    out[j] = ndcgAtK(Array.prototype.slice.call(scores, row, row + n) as number[], slateRelevance(s, grades), k);
    row += n;
  });
  return out;
}

export interface LabelMetricsOptions {
  k?: number;
  bins?: number;
  grades?: RelevanceGrades;
  bootstrapSamples?: number;
}

/** Label-based metrics of every policy, plus its per-slate NDCG (for paired comparisons). */
export function labelMetrics(
  slates: readonly LabelledSlate[],
  rows: LabelledRows,
  policies: readonly PolicyInput[],
  options: LabelMetricsOptions = {},
): { results: PolicyResult[]; ndcgPerSlate: Map<PolicyName, Float64Array> } {
  const k = options.k ?? 10;
  const bins = options.bins ?? 10;
  const boot = { samples: options.bootstrapSamples ?? 10_000 };
  const ndcgPerSlate = new Map<PolicyName, Float64Array>();
  const results = policies.map((p): PolicyResult => {
    const perSlate = ndcgBySlate(slates, p.rankScore, k, options.grades);
    ndcgPerSlate.set(p.name, perSlate);
    const ctrScore = p.ctrScore ?? p.pCtr;
    const ctrRel = p.pCtr ? reliability(p.pCtr, rows.click, bins) : null;
    const cvrRel = p.pCvr ? reliability(p.pCvr, rows.purchase, bins, rows.click) : null;
    return {
      name: p.name,
      label: p.label,
      description: p.description,
      ctr: {
        auc: ctrScore ? finiteOrNull(auc(ctrScore, rows.click)) : null,
        logloss: p.pCtr ? finiteOrNull(logloss(p.pCtr, rows.click)) : null,
        ece: ctrRel ? finiteOrNull(ctrRel.ece) : null,
        reliability: ctrRel?.bins ?? null,
      },
      cvr: {
        auc: p.pCvr ? finiteOrNull(auc(p.pCvr, rows.purchase, rows.click)) : null,
        logloss: p.pCvr ? finiteOrNull(logloss(p.pCvr, rows.purchase, rows.click)) : null,
        ece: cvrRel ? finiteOrNull(cvrRel.ece) : null,
        reliability: cvrRel?.bins ?? null,
      },
      ndcg: toInterval(bootstrapMeanCI(perSlate, boot)),
    };
  });
  return { results, ndcgPerSlate };
}

/** Paired bootstrap CIs of NDCG differences of the served model against the others. */
export function pairedNdcg(ndcg: Map<PolicyName, Float64Array>, pairs: readonly [PolicyName, PolicyName][], bootstrapSamples = 10_000): PairedResult[] {
  const out: PairedResult[] = [];
  for (const [a, b] of pairs) {
    const x = ndcg.get(a);
    const y = ndcg.get(b);
    if (!x || !y) continue;
    out.push({ name: `${a} - ${b}`, ndcg: toInterval(pairedBootstrapCI(x, y, { samples: bootstrapSamples })) });
  }
  return out;
}

export const MODEL_PAIRS: readonly [PolicyName, PolicyName][] = [
  ['int8', 'fp32'],
  ['int8', 'logged'],
  ['int8', 'popularity'],
];

/** The model's two exports as policies, from their per-slate scores. */
export function modelPolicies(
  slates: readonly LabelledSlate[],
  manifest: Manifest,
  scores: { int8: { pCtr: Float32Array; pCvr: Float32Array }; fp32: { pCtr: Float32Array; pCvr: Float32Array } },
): PolicyInput[] {
  const objective = describeObjective(manifest.objective);
  return (['int8', 'fp32'] as const).map((name) => ({
    name,
    label: name === 'int8' ? 'int8 (served)' : 'fp32',
    description: `${manifest.model.id}@${manifest.model.version} ${name === 'int8' ? manifest.files.model : (manifest.files.fp32 ?? 'fp32')} in onnxruntime-node, one run per slate as the worker scores a request; ordered by ${objective}`,
    pCtr: scores[name].pCtr,
    pCvr: scores[name].pCvr,
    rankScore: servedScores(slates, scores[name].pCtr, scores[name].pCvr, manifest.objective),
  }));
}

export function describeObjective(objective: Objective): string {
  switch (objective.kind) {
    case 'ctr':
      return 'p_ctr';
    case 'ctcvr':
      return 'p_ctr x p_cvr';
    case 'expected_revenue':
      return `p_ctr x p_cvr x price${objective.price_exponent === 1 ? '' : `^${objective.price_exponent}`}`;
  }
}

export function countLabels(rows: LabelledRows): { clicks: number; purchases: number } {
  let clicks = 0;
  let purchases = 0;
  for (let i = 0; i < rows.click.length; i++) {
    clicks += rows.click[i]!;
    purchases += rows.purchase[i]!;
  }
  return { clicks, purchases };
}

export function policy(report: EvalReport, name: PolicyName): PolicyResult | undefined {
  return report.policies.find((p) => p.name === name);
}
