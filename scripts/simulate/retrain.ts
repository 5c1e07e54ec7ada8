// --retrain: a model trained on the simulation's own exposure log (model/data/exposure-log.ts +
// model/pipeline/train-exposures.ts), compared with the shipped model offline on held-out
// simulated traffic: the last part of the run (by time) is never trained on; both models re-rank
// its slates from the logged inputs (int8, one slate per onnxruntime run, as the worker runs it),
// and each order is valued by the world's ground truth (expected revenue with the position bias),
// paired slate by slate.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exposureSlates, exposureTrainingSet, splitByTime, type ExposureSlate } from '../../model/data/exposure-log.ts';
import type { ExposureOutcome, ExposureRow } from '../../model/data/exposure-row.ts';
import { pairedBootstrapCI, bootstrapMeanCI } from '../../model/eval/ranking-metrics.ts';
import type { Manifest } from '../../model/features/manifest.ts';
import { scoreTrainingRows } from '../../model/onnx/score-node.ts';
import { trainOnExposures } from '../../model/pipeline/train-exposures.ts';
import { auc, both } from '../../model/train/metrics.ts';
import type { World } from '../../model/world/index.ts';
import type { SimRequest } from './traffic.ts';

export interface ModelScore {
  /** ground-truth expected revenue per held-out request of the model's order */
  expected_revenue_per_request: number;
  expected_revenue_ci95: [number, number];
  /** against the held-out logged clicks / purchases (position-confounded; for reference) */
  ctr_auc: number;
  ctcvr_auc: number;
}

export interface RetrainReport {
  model: { id: string; version: string; dir: string };
  train_slates: number;
  validation_slates: number;
  holdout_slates: number;
  train_rows: number;
  epochs_run: number;
  best_epoch: number;
  shipped: ModelScore;
  retrained: ModelScore;
  /** what the logged (served) orders of the held-out requests were worth, and the oracle's order */
  served_expected_revenue_per_request: number;
  oracle_expected_revenue_per_request: number;
  /** retrained / shipped - 1 in expected revenue per request, with a paired bootstrap interval */
  revenue_diff: number;
  revenue_diff_ci95: [number, number];
  /** the interval's lower end is above -1% (non-inferior) / above 0 (better) */
  at_least_as_good: boolean;
  better: boolean;
}

function expectedRevenue(world: World, request: SimRequest, ids: readonly string[], prices: readonly number[], order: readonly number[]): number {
  let revenue = 0;
  order.forEach((row, k) => {
    const item = world.itemIndex(ids[row]!)!;
    revenue += world.examination(k + 1) * world.pClickTop(request.userIndex, item, request.context) * world.pPurchaseGivenClick(request.userIndex, item, request.context) * prices[row]!;
  });
  return revenue;
}

const orderBy = (scores: ArrayLike<number>): number[] => Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);

/** One onnxruntime run per slate, as the worker scores a request (int8 scales depend on the batch). */
function scoreSlates(model: Uint8Array, manifest: Manifest, slates: readonly ExposureSlate[]): Promise<{ pCtr: Float32Array; pCvr: Float32Array }> {
  return scoreTrainingRows(model, exposureTrainingSet(manifest, slates), slates.map((slate) => slate.items.length));
}

export async function retrainAndCompare(options: {
  world: World;
  rows: readonly ExposureRow[];
  outcomes: readonly ExposureOutcome[];
  requests: ReadonlyMap<string, SimRequest>;
  shipped: { manifest: Manifest; int8: Uint8Array };
  holdoutFraction: number;
  epochs: number;
  seed: number;
  outDir: string;
  log: (line: string) => void;
}): Promise<RetrainReport> {
  const { world, shipped, log } = options;
  const { slates, stats } = exposureSlates(options.rows, options.outcomes, { featuresModel: shipped.manifest.model });
  log(`retrain: ${stats.slates} logged slates with ${shipped.manifest.model.id}@${shipped.manifest.model.version} inputs (${stats.impressions} impressions, ${stats.clicks} clicks, ${stats.purchases} purchases; skipped ${stats.skipped_no_inputs} without inputs, ${stats.skipped_other_model} of another model)`);
  const { train: trainAll, holdout } = splitByTime(slates, options.holdoutFraction);
  const { train, holdout: valid } = splitByTime(trainAll, 0.1);
  log(`retrain: ${train.length} slates to train on, ${valid.length} for early stopping, ${holdout.length} held out (the last ${Math.round(options.holdoutFraction * 100)}% by time)`);
  const trained = trainOnExposures(shipped.manifest, train, valid, {
    modelId: `${shipped.manifest.model.id}-retrained`,
    train: { epochs: options.epochs, seed: options.seed, positionInit: 'zero', log: (line) => log(`  ${line}`) },
    provenance: { source: 'npm run simulate -- --retrain' },
  });
  const dir = join(options.outDir, trained.manifest.model.id);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, trained.manifest.files.model), trained.int8);
  if (trained.manifest.files.fp32) await writeFile(join(dir, trained.manifest.files.fp32), trained.fp32);
  await writeFile(join(dir, 'manifest.json'), `${JSON.stringify(trained.manifest, null, 2)}\n`);

  const [a, b] = [await scoreSlates(shipped.int8, shipped.manifest, holdout), await scoreSlates(trained.int8, trained.manifest, holdout)];
  const heldSet = exposureTrainingSet(shipped.manifest, holdout);
  const revenue = { shipped: new Float64Array(holdout.length), retrained: new Float64Array(holdout.length), served: new Float64Array(holdout.length), oracle: new Float64Array(holdout.length) };
  let row = 0;
  holdout.forEach((slate, j) => {
    const request = options.requests.get(slate.requestId);
    if (!request) throw new Error(`held-out slate ${slate.requestId} was not sent by this run`);
    const n = slate.items.length;
    const ids = slate.items.map((i) => i.id);
    const prices = slate.items.map((i) => Number(i.inline?.price ?? world.items.price[world.itemIndex(i.id)!]!));
    const objective = (p: { pCtr: Float32Array; pCvr: Float32Array }) => Float64Array.from({ length: n }, (_, i) => p.pCtr[row + i]! * p.pCvr[row + i]! * prices[i]!);
    revenue.shipped[j] = expectedRevenue(world, request, ids, prices, orderBy(objective(a)));
    revenue.retrained[j] = expectedRevenue(world, request, ids, prices, orderBy(objective(b)));
    revenue.served[j] = expectedRevenue(world, request, ids, prices, ids.map((_, i) => i));
    const truth = Float64Array.from(ids, (id, i) => {
      const item = world.itemIndex(id)!;
      return world.pClickTop(request.userIndex, item, request.context) * world.pPurchaseGivenClick(request.userIndex, item, request.context) * prices[i]!;
    });
    revenue.oracle[j] = expectedRevenue(world, request, ids, prices, orderBy(truth));
    row += n;
  });
  const score = (p: { pCtr: Float32Array; pCvr: Float32Array }, values: Float64Array): ModelScore => {
    const ci = bootstrapMeanCI(values);
    return {
      expected_revenue_per_request: ci.mean,
      expected_revenue_ci95: [ci.lo, ci.hi],
      ctr_auc: auc(p.pCtr, heldSet.click),
      ctcvr_auc: auc(p.pCtr.map((c, i) => c * p.pCvr[i]!), both(heldSet.click, heldSet.purchase)),
    };
  };
  const shippedScore = score(a, revenue.shipped);
  const retrainedScore = score(b, revenue.retrained);
  const diff = pairedBootstrapCI(revenue.retrained, revenue.shipped);
  const base = shippedScore.expected_revenue_per_request;
  const relCi: [number, number] = [diff.lo / base, diff.hi / base];
  const mean = (v: Float64Array) => v.reduce((s, x) => s + x, 0) / v.length;
  return {
    model: { id: trained.manifest.model.id, version: trained.manifest.model.version, dir },
    train_slates: train.length,
    validation_slates: valid.length,
    holdout_slates: holdout.length,
    train_rows: trained.trainSet.click.length,
    epochs_run: trained.result.history.length,
    best_epoch: trained.result.bestEpoch,
    shipped: shippedScore,
    retrained: retrainedScore,
    served_expected_revenue_per_request: mean(revenue.served),
    oracle_expected_revenue_per_request: mean(revenue.oracle),
    revenue_diff: diff.mean / base,
    revenue_diff_ci95: relCi,
    at_least_as_good: relCi[0] > -0.01,
    better: relCi[0] > 0,
  };
}
