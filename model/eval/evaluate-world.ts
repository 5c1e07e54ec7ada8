// Evaluation on the synthetic world, where the ground truth is known. The held-out slates are
// rebuilt exactly as the training run builds them (model/pipeline/train-ranker.ts: point-in-time
// features, the last `validation_days` of the log), the int8 and fp32 exports score them one slate
// per onnxruntime run, and every policy is measured against the logged labels (offline-eval.ts)
// and against the world's true probabilities (world-eval.ts): expected AUC at position 1, expected
// clicks and revenue per slate of the order it serves, and the share of the popularity -> oracle gap
// the served model closes.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Impression } from '../data/impressions.ts';
import { pointInTimeSlates } from '../dataset/point-in-time.ts';
import type { LabelledSlate } from '../dataset/slates.ts';
import { assembleTrainingSet } from '../dataset/training-set.ts';
import { DAY_MS, ITEM_WINDOW_DAYS, MIN_HISTORY_DAYS, USER_WINDOW_DAYS } from '../features/compute.ts';
import { parseManifest, type Manifest } from '../features/manifest.ts';
import { scoreTrainingRows } from '../onnx/score-node.ts';
import { ensureWorldFiles, worldDir } from '../pipeline/ensure-world.ts';
import { scorePerSlate } from '../pipeline/train-dataset.ts';
import { REFERENCE_FEATURES, REFERENCE_TRAINING, trainRanker, type TrainedRanker, type TrainRankerOptions } from '../pipeline/train-ranker.ts';
import { loadWorldLog, type LoadedWorldLog } from '../pipeline/world-log.ts';
import { auc } from '../train/metrics.ts';
import { createWorld, WORLD_FILES, WORLD_VERSION, type World, type WorldSettings } from '../world/index.ts';
import { segmentLevelTruth } from '../world/segment-truth.ts';
import {
  baselinePolicies,
  countLabels,
  itemPopularity,
  labelMetrics,
  MODEL_PAIRS,
  modelPolicies,
  pairedNdcg,
  rowsOf,
  slateRows,
  toInterval,
  type EvalReport,
  type ItemPopularity,
  type LearningPoint,
  type PolicyInput,
  type TrainingInfo,
} from './offline-eval.ts';
import { expectedAuc, reliability } from './probabilistic-metrics.ts';
import { pairedBootstrapCI } from './ranking-metrics.ts';
import { evaluateOnWorld, gapClosed, truthPolicy, type Policy } from './world-eval.ts';
import { slateTruth } from './world-oracle.ts';

type Log = (line: string) => void;

// ---------------------------------------------------------------------------------------------
// The world's files
// ---------------------------------------------------------------------------------------------

async function describedIn(dir: string): Promise<string | null> {
  try {
    const { stats: _stats, ...description } = JSON.parse(await readFile(join(dir, WORLD_FILES.description), 'utf8')) as Record<string, unknown>;
    return JSON.stringify(description);
  } catch {
    return null;
  }
}

/**
 * The world of these settings as the current code defines it, and a directory holding its files.
 * ensureWorldFiles reuses a directory whose world.json has the same settings, even when the world
 * code has changed since (world-v1 files under world-v2 code): its log would not match the ground
 * truth used here. So the files' description is compared with the current world's, and on a
 * mismatch the world is generated into a directory keyed by that description instead (the shared
 * directory is left alone: other runs may be reading it).
 */
export async function ensureCurrentWorld(settings: WorldSettings, dataDir: string, log: Log): Promise<{ dir: string; world: World; stale: string | null }> {
  const world = createWorld(settings);
  const expected = JSON.stringify(world.describe());
  const dir = worldDir(dataDir, settings);
  // The shared directory is keyed by name, seed and impressions only: a complete world there with
  // other settings (users, items, days) or from other world code is someone else's; never overwrite it.
  const existing = await describedIn(dir);
  if (existing === null) await ensureWorldFiles(settings, dataDir, log);
  const found = existing ?? (await describedIn(dir));
  if (found === expected) return { dir, world, stale: null };
  const other = found ? (JSON.parse(found) as { version?: unknown; settings?: unknown }) : {};
  const foundVersion = String(other.version ?? 'unknown');
  const why =
    JSON.stringify(other.settings) !== JSON.stringify(settings)
      ? 'other settings'
      : foundVersion !== WORLD_VERSION
        ? `other world code (${foundVersion}; the code is ${WORLD_VERSION})`
        : `other world parameters under the same version label ${WORLD_VERSION} (world.describe() differs)`;
  const key = createHash('sha256').update(expected).digest('hex').slice(0, 12);
  const alt = join(dataDir, 'eval-worlds', `${WORLD_VERSION}-${key}`);
  log(`${dir} holds a world generated with ${why}: using ${alt} instead`);
  const altDir = await ensureWorldFiles(settings, alt, log);
  if ((await describedIn(altDir)) !== expected) throw new Error(`${altDir}: world.json does not describe the current world of these settings`);
  return { dir: altDir, world, stale: `${dir} (${why})` };
}

// ---------------------------------------------------------------------------------------------
// Held-out slates
// ---------------------------------------------------------------------------------------------

export interface RankerWindows {
  originTs: number;
  /** first training day (after the first feature window) */
  trainFrom: number;
  /** first held-out day */
  heldOutFrom: number;
  /** end of the training days (the validation days follow when there are test days) */
  trainTo: number;
  endTs: number;
}

/**
 * The day windows train-ranker uses: days [7, end - validation - test) train; the evaluation holds
 * out the test days (never seen in training or early stopping) or, for a model trained without
 * them, the validation days.
 */
export function rankerWindows(log: readonly Impression[], validationDays: number, testDays = 0): RankerWindows {
  if (log.length === 0) throw new Error('the impression log is empty');
  const originTs = Math.floor(log[0]!.ts / DAY_MS) * DAY_MS;
  const endTs = (Math.floor(log[log.length - 1]!.ts / DAY_MS) + 1) * DAY_MS;
  const trainFrom = originTs + MIN_HISTORY_DAYS * DAY_MS;
  const heldOutFrom = endTs - (testDays > 0 ? testDays : validationDays) * DAY_MS;
  if (heldOutFrom - (testDays > 0 ? validationDays * DAY_MS : 0) <= trainFrom) {
    throw new Error(`the log spans ${(endTs - originTs) / DAY_MS} days: too short for ${MIN_HISTORY_DAYS} days of history plus ${validationDays + testDays} held-out days`);
  }
  const trainTo = heldOutFrom - (testDays > 0 ? validationDays * DAY_MS : 0);
  return { originTs, trainFrom, trainTo, heldOutFrom, endTs };
}

/** Point-in-time slates of [fromTs, toTs), as train-ranker builds them. */
export function worldSlates(loaded: LoadedWorldLog, windows: RankerWindows, fromTs: number, toTs: number): LabelledSlate[] {
  return [...pointInTimeSlates(loaded.log, loaded, { originTs: windows.originTs, windowDays: ITEM_WINDOW_DAYS, userWindowDays: USER_WINDOW_DAYS, fromTs, toTs })];
}

/** Item popularity over the log's impressions with ts in [fromTs, toTs). */
export function logPopularity(log: readonly Impression[], fromTs: number, toTs: number): ItemPopularity {
  function* rows() {
    for (const imp of log) if (imp.ts >= fromTs && imp.ts < toTs) yield { id: imp.item_id, click: imp.clicked, purchase: imp.purchased };
  }
  return itemPopularity(rows());
}

const dayOf = (ts: number, origin: number) => Math.round((ts - origin) / DAY_MS);
const isoDay = (ts: number) => new Date(ts).toISOString().slice(0, 10);

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

export interface WorldEvalInput {
  world: World;
  manifest: Manifest;
  int8: Uint8Array;
  fp32: Uint8Array;
  slates: readonly LabelledSlate[];
  popularity: ItemPopularity;
  /** e.g. "the training window (days 7-25, 2025-01-13 to 2025-01-31)" */
  trainingWindow: string;
  /** e.g. "the last 3 days of the log (days 25-28): the trainer's validation days" */
  heldOutDescription: string;
  model: EvalReport['model'];
  command: string;
  notes: string[];
  /** the world settings the model was trained on, as recorded (manifest.training.world) */
  trainedOn?: unknown;
  reproduction?: NonNullable<EvalReport['world']>['reproduction'];
  training?: TrainingInfo;
  k?: number;
  bins?: number;
  bootstrapSamples?: number;
  log?: Log;
}

const SEGMENT_CEILING = 'segment_ceiling';

/** The segment-level ceiling as a policy: the truth over segment-level users (see segment-truth.ts). */
function segmentCeilingPolicy(world: World, slates: readonly LabelledSlate[]): Policy {
  const truth = segmentLevelTruth(world);
  return truthPolicy(SEGMENT_CEILING, slates.map((s) => slateTruth(world, s, truth)));
}

export async function evaluateWorldModel(input: WorldEvalInput): Promise<EvalReport> {
  const { world, manifest, slates } = input;
  const log = input.log ?? (() => {});
  const k = input.k ?? 10;
  const bins = input.bins ?? 10;
  const bootstrapSamples = input.bootstrapSamples ?? 10_000;
  if (slates.length === 0) throw new Error('no held-out slates to evaluate');
  const set = assembleTrainingSet(manifest, slates);
  log(`scoring ${slates.length} held-out slates (${set.click.length} rows), one onnxruntime run per slate`);
  const int8 = await scorePerSlate(input.int8, set, slates);
  const fp32 = await scorePerSlate(input.fp32, set, slates);
  const rows = rowsOf(slates);

  const models = modelPolicies(slates, manifest, { int8, fp32 });
  const baselines = baselinePolicies(slates, input.popularity, input.trainingWindow);
  const [popularity, logged] = [baselines.find((p) => p.name === 'popularity')!, baselines.find((p) => p.name === 'logged')!];

  log('ground truth: expected AUC, clicks and revenue per slate');
  const ev = evaluateOnWorld(world, slates, [
    ...[...models, popularity, logged].map((p) => ({ name: p.name, ctrScore: p.ctrScore ?? p.pCtr!, rankScore: p.rankScore, ...(p.pCvr ? { cvrScore: p.pCvr } : {}) })),
    segmentCeilingPolicy(world, slates),
  ]);
  const pTop = ev.truth.pClickTop;
  const pBuy = ev.truth.pPurchaseGivenClick;
  // The oracle against the logged labels: the true probability of each logged label, i.e. of a
  // click at the position the item was shown.
  const pAtPosition = new Float64Array(pTop.length);
  let row = 0;
  for (const s of slates) for (let i = 0; i < s.items.length; i++, row++) pAtPosition[row] = world.examination(s.positions[i]!) * pTop[row]!;
  const oracle: PolicyInput = {
    name: 'oracle',
    label: 'oracle',
    description: "the world's true probabilities: ordered by true P(click at position 1) x P(purchase | click) x price; against the logged labels its p_ctr is the true P(click) at the logged position",
    pCtr: pAtPosition,
    pCvr: pBuy,
    rankScore: ev.truth.oracleValue,
  };
  const policies = [...models, ...baselines, oracle];
  const { results, ndcgPerSlate } = labelMetrics(slates, rows, policies, { k, bins, bootstrapSamples });

  for (const result of results) {
    const policyInput = policies.find((p) => p.name === result.name)!;
    const w = ev.policies[result.name]!;
    result.world = { clicks_per_slate: w.clicks_per_slate, revenue_per_slate: w.revenue_per_slate, revenue_per_slate_ci95: w.revenue_per_slate_ci95 };
    result.ctr.auc_expected = w.ctr_auc_expected;
    const truthCtr = result.name === 'oracle' ? pTop : policyInput.pCtr;
    const ctrRel = truthCtr ? reliability(truthCtr, pTop, bins) : null;
    result.ctr.ece_vs_truth = ctrRel ? ctrRel.ece : null;
    result.ctr.reliability_vs_truth = ctrRel?.bins ?? null;
    const cvrRel = policyInput.pCvr ? reliability(policyInput.pCvr, pBuy, bins) : null;
    result.cvr.auc_expected = policyInput.pCvr ? expectedAuc(policyInput.pCvr, pBuy) : result.name === 'random' ? 0.5 : null;
    result.cvr.ece_vs_truth = cvrRel ? cvrRel.ece : null;
    result.cvr.reliability_vs_truth = cvrRel?.bins ?? null;
  }

  const paired = pairedNdcg(ndcgPerSlate, MODEL_PAIRS, bootstrapSamples);
  for (const p of paired) {
    const [a, b] = p.name.split(' - ') as [string, string];
    const ra = ev.truth.revenuePerSlate[a];
    const rb = ev.truth.revenuePerSlate[b];
    if (ra && rb) p.revenue = toInterval(pairedBootstrapCI(ra, rb, { samples: bootstrapSamples }));
  }

  const P = ev.policies;
  const gap = (name: 'int8' | 'fp32' | typeof SEGMENT_CEILING) => ({
    auc: gapClosed(P[name]!.ctr_auc_expected, P.popularity!.ctr_auc_expected, P.oracle!.ctr_auc_expected),
    revenue: gapClosed(P[name]!.revenue_per_slate, P.popularity!.revenue_per_slate, P.oracle!.revenue_per_slate),
  });
  const ceiling = P[SEGMENT_CEILING]!;
  const { clicks, purchases } = countLabels(rows);
  return {
    dataset: 'world',
    generated_at: new Date().toISOString(),
    command: input.command,
    model: input.model,
    data: { description: input.heldOutDescription, slates: slates.length, rows: rows.click.length, clicks, purchases, training_window: input.trainingWindow },
    k,
    bins,
    bootstrap_samples: bootstrapSamples,
    policies: results,
    paired,
    world: {
      description: { ...world.describe(), ...(input.trainedOn !== undefined ? { trained_on: input.trainedOn } : {}) },
      gap_closed: gap('int8'),
      gap_closed_fp32: gap('fp32'),
      segment_ceiling: {
        ctr_auc_expected: ceiling.ctr_auc_expected,
        revenue_per_slate: ceiling.revenue_per_slate,
        gap_closed: gap(SEGMENT_CEILING),
      },
      reproduction: input.reproduction ?? null,
    },
    ...(input.training ? { training: input.training } : {}),
    notes: [
      ...input.notes,
      'p_ctr is the probability of a click at position 1 (the position tower is dropped at export), while the logged clicks happened at positions 1 to 30: against the logged labels the models\' CTR logloss and calibration carry that position offset by design. The calibration that matters on the world is against the true position-1 probability (the "vs truth" columns and curves). Popularity, an average over logged positions, is the reverse: close to the logged labels, far from the position-1 truth.',
      `NDCG@${k} against the logged labels favours the logging policy and whatever imitates it (the world logs a popularity-based order, and popularity is measured on the same log): the labels were drawn at the logged positions, so the items it put on top collected more clicks through position bias alone. Even the oracle can score below the logged order here. On the world, compare rankings by expected revenue and expected AUC, which are free of that bias.`,
      'Expected AUC, clicks and revenue per slate use the ground truth, not the drawn labels: expected AUC counts every pair of rows weighted by the true probabilities at position 1; expected revenue serves the slate in the policy\'s order with the world\'s position bias.',
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// The two ways in: an artifact on disk, or a model trained by this run
// ---------------------------------------------------------------------------------------------

export interface WorldRunOptions {
  dataDir: string;
  command: string;
  log: Log;
  k?: number;
  bins?: number;
  bootstrapSamples?: number;
}

function windowText(w: RankerWindows, from: number, to: number): string {
  return `days ${dayOf(from, w.originTs)}-${dayOf(to, w.originTs)} of the log (${isoDay(from)} to ${isoDay(to - DAY_MS)})`;
}

/** Evaluates an artifact directory (manifest.json + ONNX files) trained on a synthetic world. */
export async function evaluateWorldArtifact(dir: string, options: WorldRunOptions): Promise<EvalReport> {
  const manifest = parseManifest(JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')));
  const training = (manifest.training ?? {}) as { world?: WorldSettings; validation_days?: number; test_days?: number };
  if (!training.world) throw new Error(`${dir}/manifest.json has no training.world: the model was not trained on a synthetic world`);
  if (!manifest.files.fp32) throw new Error(`${dir}/manifest.json names no fp32 file`);
  const int8 = new Uint8Array(await readFile(join(dir, manifest.files.model)));
  const fp32 = new Uint8Array(await readFile(join(dir, manifest.files.fp32)));
  const validationDays = training.validation_days ?? 3;
  const testDays = training.test_days ?? 0;
  const heldOutDays = testDays > 0 ? testDays : validationDays;
  const { dir: worldDirectory, world, stale } = await ensureCurrentWorld(training.world, options.dataDir, options.log);
  const loaded = await loadWorldLog(worldDirectory);
  options.log(`world ${worldDirectory}: ${loaded.log.length} impressions`);
  const w = rankerWindows(loaded.log, validationDays, testDays);
  const slates = worldSlates(loaded, w, w.heldOutFrom, w.endTs);

  // Does the regenerated world reproduce the held-out set the manifest reports on (scored one slate per run, as the trainer does)?
  const recorded = (manifest.metrics?.test ?? manifest.metrics?.validation ?? {}) as { rows?: number; int8?: { ctr?: { auc?: number } } };
  const set = assembleTrainingSet(manifest, slates);
  const batch = await scoreTrainingRows(int8, set, slates.map((s) => s.items.length));
  const batchAuc = auc(batch.pCtr, set.click);
  const manifestRows = recorded.rows ?? null;
  const manifestAuc = recorded.int8?.ctr?.auc ?? null;
  const matches = manifestRows === null || manifestAuc === null ? null : manifestRows === set.click.length && Math.abs(manifestAuc - batchAuc) < 2e-5;
  const notes = [
    testDays > 0
      ? `The held-out slates are the last ${testDays} days of the log (the training run's test days: never used for training or early stopping), rebuilt as the training run builds them.`
      : `The held-out slates are the last ${validationDays} days of the log, rebuilt as the training run builds them; they are also this model's early-stopping set (it was trained without test days), so its figures are slightly optimistic.`,
  ];
  if (stale) notes.push(`The cached world files at ${stale} do not match; this run generated the current code's world (${WORLD_VERSION}) of these settings in its own directory.`);
  if (matches === false) {
    notes.push(
      `The regenerated world does not reproduce this model's validation set (${set.click.length} rows, int8 CTR AUC ${batchAuc.toFixed(5)} when scored in batches as the trainer does; the manifest records ${manifestRows} rows and ${manifestAuc}): the world code has changed since the model was trained (the manifest does not record a world version). The figures below measure this model on the current world, which is not the one it learned.`,
    );
  }
  return evaluateWorldModel({
    world,
    manifest,
    int8,
    fp32,
    slates,
    popularity: logPopularity(loaded.log, w.trainFrom, w.trainTo),
    trainingWindow: `the training window (${windowText(w, w.trainFrom, w.trainTo)})`,
    heldOutDescription: `the last ${heldOutDays} days of the log (${windowText(w, w.heldOutFrom, w.endTs)}), point-in-time features (items and users from up to ${ITEM_WINDOW_DAYS} and ${USER_WINDOW_DAYS} days before each day)`,
    model: { id: manifest.model.id, version: manifest.model.version, source: 'artifact', dir, objective: manifest.objective, description: manifest.model.description ?? null },
    command: options.command,
    notes,
    trainedOn: training.world,
    reproduction: { manifest_rows: manifestRows, rows: set.click.length, manifest_ctr_auc: manifestAuc, batch_ctr_auc: batchAuc, matches },
    log: options.log,
    ...(options.k !== undefined ? { k: options.k } : {}),
    ...(options.bins !== undefined ? { bins: options.bins } : {}),
    ...(options.bootstrapSamples !== undefined ? { bootstrapSamples: options.bootstrapSamples } : {}),
  });
}

export interface WorldTrainOptions extends WorldRunOptions {
  modelId?: string;
  validationDays?: number;
  /** days held out for evaluation only (default 3, as `npm run train`) */
  testDays?: number;
  /** trainer options (epochs, seed, shape...); defaults as `npm run train` passes them */
  train?: TrainRankerOptions['train'];
  /** teachers to distil from (absent: the logged labels only) */
  distill?: TrainRankerOptions['distill'];
}


export function trainingInfo(trained: TrainedRanker, wallSeconds: number): TrainingInfo {
  const history = trained.result.history;
  // Teachers count: they are part of what it takes to train the served network.
  const all = [trained.result, ...trained.teachers].flatMap((r) => r.history);
  const seconds = all.reduce((s, e) => s + e.seconds, 0);
  const rows = all.reduce((s, e) => s + e.trainRows, 0);
  return {
    seconds,
    rows,
    rows_per_second: seconds > 0 ? rows / seconds : 0,
    train_rows: trained.trainSet.click.length,
    epochs: history.length,
    best_epoch: trained.result.bestEpoch,
    teachers: trained.teachers.length,
    wall_seconds: wallSeconds,
  };
}

/** Trains the reference ranker on a world of these settings (as `npm run train` does) and evaluates it. */
export async function trainAndEvaluateWorld(settings: WorldSettings, options: WorldTrainOptions): Promise<{ report: EvalReport; trained: TrainedRanker }> {
  const { dir, world, stale } = await ensureCurrentWorld(settings, options.dataDir, options.log);
  const loaded = await loadWorldLog(dir);
  options.log(`world ${dir}: ${loaded.log.length} impressions, ${loaded.users.size} users, ${loaded.items.size} items`);
  const validationDays = options.validationDays ?? 3;
  const testDays = options.testDays ?? 3;
  const started = performance.now();
  const trained = await trainRanker(loaded, {
    modelId: options.modelId ?? `eval-${settings.name}`,
    validationDays,
    testDays,
    features: REFERENCE_FEATURES(settings.items),
    train: options.train ?? { ...REFERENCE_TRAINING, epochs: 8, seed: 1, log: options.log },
    ...(options.distill ? { distill: options.distill } : {}),
    provenance: { world: settings, world_version: WORLD_VERSION, data: 'synthetic world impression log (model/world), point-in-time features' },
    log: options.log,
  });
  const wall = (performance.now() - started) / 1000;
  // A separate test window, if the training run has one, is what to report on.
  const test = trained.testSlates;
  const heldOut = test.length > 0 ? test : trained.validSlates;
  const w = rankerWindows(loaded.log, validationDays, testDays);
  const notes = [
    test.length > 0
      ? 'The held-out slates are the training run\'s test window (not used for early stopping).'
      : `The held-out slates are the training run's last ${validationDays} days, which are also its early-stopping set (train-ranker has no separate test window), so the models' figures are slightly optimistic.`,
  ];
  if (stale) notes.push(`The cached world files at ${stale} do not match; this run generated the current code's world (${WORLD_VERSION}) of these settings in its own directory.`);
  const report = await evaluateWorldModel({
    world,
    manifest: trained.manifest,
    int8: trained.int8,
    fp32: trained.fp32,
    slates: heldOut,
    popularity: logPopularity(loaded.log, w.trainFrom, w.trainTo),
    trainingWindow: `the training slates (${windowText(w, w.trainFrom, w.trainTo)})`,
    heldOutDescription: test.length > 0 ? `the training run's test slates: the last ${testDays} days (${windowText(w, w.heldOutFrom, w.endTs)})` : `the training run's validation slates: the last ${validationDays} days (${windowText(w, w.heldOutFrom, w.endTs)})`,
    model: { id: trained.manifest.model.id, version: trained.manifest.model.version, source: 'trained', dir: null, objective: trained.manifest.objective, description: trained.manifest.model.description ?? null },
    command: options.command,
    notes,
    trainedOn: settings,
    training: trainingInfo(trained, wall),
    log: options.log,
    ...(options.k !== undefined ? { k: options.k } : {}),
    ...(options.bins !== undefined ? { bins: options.bins } : {}),
    ...(options.bootstrapSamples !== undefined ? { bootstrapSamples: options.bootstrapSamples } : {}),
  });
  return { report, trained };
}

/** One learning-curve point from a trained-and-evaluated world run. */
export function learningPoint(impressions: number, report: EvalReport): LearningPoint {
  const get = (name: string) => report.policies.find((p) => p.name === name)!;
  const [int8, pop, oracle] = [get('int8'), get('popularity'), get('oracle')];
  const t = report.training!;
  return {
    impressions,
    slates: report.data.slates,
    train_rows: t.train_rows,
    ctr_auc: int8.ctr.auc_expected!,
    ctr_auc_popularity: pop.ctr.auc_expected!,
    ctr_auc_oracle: oracle.ctr.auc_expected!,
    revenue_per_slate: int8.world!.revenue_per_slate,
    revenue_per_slate_popularity: pop.world!.revenue_per_slate,
    revenue_per_slate_oracle: oracle.world!.revenue_per_slate,
    ndcg10: int8.ndcg.mean,
    gap_closed: report.world!.gap_closed,
    ...(report.world!.segment_ceiling ? { gap_closed_segment_ceiling: report.world!.segment_ceiling.gap_closed } : {}),
    train_seconds: t.seconds,
    rows_per_second: t.rows_per_second,
    epochs: t.epochs,
    best_epoch: t.best_epoch,
  };
}
