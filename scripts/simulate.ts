// npm run simulate: an online experiment against the real worker. Users of the synthetic world the
// shipped model was trained on send rank requests over HTTP to a local worker (wrangler dev on a
// free loopback port, its own KV state under .data/simulate/, the scenario's EXPERIMENTS config,
// exposure logging to the local KV sink); clicks and purchases are drawn from the world's ground
// truth at the positions the worker served; the worker's exposure log joined with those outcomes
// gives, per arm, CTR, CVR and revenue per request with 95% intervals and the lift over the
// control (for interleaving: the preference between the two arms and its sign test). --retrain
// trains a model on the run's own exposure log and compares it with the shipped one offline on the
// run's held-out last requests.
//
// Bounded: --requests (default 20,000), --max-seconds for the traffic (default 300), --concurrency
// in flight (default 8). Loopback only. A script, not a test: it prints figures.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError } from 'commander';
import type { ExposureOutcome, ExposureRow } from '../model/data/exposure-row.ts';
import { mergeExposureParts } from '../model/data/exposure-row.ts';
import { ensureCurrentWorld } from '../model/eval/evaluate-world.ts';
import { ACTIVE_KEY, parseActiveFeatureSet } from '../model/features/kv-layout.ts';
import type { WorldSettings } from '../model/world/index.ts';
import { compileExperiments, parseExperimentsConfig } from '../worker/experiments/config.ts';
import type { ModelRegistry } from '../worker/model/registry.ts';
import type { LoadedModel } from '../worker/model/loaded-model.ts';
import { backfillWorld } from './backfill/backfill-world.ts';
import { buildBundle } from './bench/bundle.ts';
import { openLocalKv } from './backfill/kv-target.ts';
import { startWranglerDev, stopWranglerDev, waitUntilReady, type DevServer } from './bench/wrangler-dev.ts';
import { shippedModels } from './demo/shipped-models.ts';
import { openLocalLog } from './exposures/local-log.ts';
import { analyze, type Analysis } from './simulate/analyze.ts';
import { renderSimulationReport, type SimulationSummary } from './simulate/report.ts';
import { renderPng } from '../model/eval/report/png.ts';
import { retrainAndCompare, type RetrainReport } from './simulate/retrain.ts';
import { SCENARIOS, scenarioConfig, type Scenario, type ScenarioConfig } from './simulate/scenarios.ts';
import { drawOutcomes, simRequest, type SimRequest } from './simulate/traffic.ts';

const positiveInt = (flag: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} must be a positive integer`);
  return n;
};

const program = new Command()
  .name('npm run simulate --')
  .description('Simulate an A/B, A/A or interleaving experiment against the local worker with the synthetic world\'s users; print per-arm CTR, CVR, revenue per request with 95% intervals and the lift over control.')
  .option('--scenario <name>', `ab (model vs popularity control), aa (two identical model arms) or interleave (team-draft, model vs popularity)`, 'ab')
  .option('--experiments <file>', 'a custom EXPERIMENTS config (JSON) instead of the scenario\'s; the lift is measured against its control')
  .option('--requests <n>', 'requests to send', positiveInt('--requests'), 20_000)
  .option('--max-seconds <s>', 'stop sending after this many seconds', positiveInt('--max-seconds'), 300)
  .option('--concurrency <n>', 'requests in flight', positiveInt('--concurrency'), 8)
  .option('--seed <n>', 'seeds the requests, the outcomes and the salt', positiveInt('--seed'), 1)
  .option('--url <base>', 'attach to a running worker on loopback instead of starting one (it must serve the scenario\'s EXPERIMENTS with EXPOSURE_SINK=kv; see --persist-to)')
  .option('--persist-to <dir>', 'with --url: that worker\'s state directory (wrangler dev --persist-to), where its exposure log is read', '')
  .option('--retrain', 'train a model on this run\'s exposure log and compare it with the shipped model on the held-out last 20% of requests', false)
  .option('--retrain-epochs <n>', 'maximum epochs of --retrain', positiveInt('--retrain-epochs'), 6)
  .option('--refill', 'backfill the simulator\'s KV again', false)
  .option('--keep-log', 'leave the run\'s rows in the local KV (they are exported to the run directory either way)', false)
  .option('--report-from <run-dir>', 'analyse an earlier run again from its exposure log and outcomes, update its summary.json, render report.html (and --png), and exit')
  .option('--print-config', 'print the scenario\'s EXPERIMENTS config and exit', false)
  .option('--png [file]', 'also screenshot the HTML report with headless Chromium (default: report.png in the run directory)')
  .option('--json', 'print one JSON object as the last line', false)
  .parse();

interface Options {
  scenario: string;
  experiments?: string;
  requests: number;
  maxSeconds: number;
  concurrency: number;
  seed: number;
  url?: string;
  persistTo: string;
  retrain: boolean;
  retrainEpochs: number;
  refill: boolean;
  keepLog: boolean;
  printConfig: boolean;
  reportFrom?: string;
  png?: string | boolean;
  json: boolean;
}
const options = program.opts<Options>();

const root = resolve(import.meta.dirname, '..');
const simDir = join(root, '.data', 'simulate');
const stateDir = join(simDir, 'state');
const t0 = performance.now();
const log = (line: string) => (options.json ? process.stderr : process.stdout).write(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);

async function scenario(): Promise<ScenarioConfig> {
  if (options.experiments) {
    const experiments = JSON.parse(await readFile(resolve(options.experiments), 'utf8')) as Record<string, unknown>;
    const parsed = parseExperimentsConfig(experiments, options.experiments);
    const control = parsed.control ?? parsed.arms[0]!.name;
    const interleave = parsed.arms.find((a) => a.kind === 'interleave' && a.share > 0);
    return { experiments, control, ...(interleave && interleave.kind === 'interleave' ? { interleave: { arm: interleave.name, a: interleave.arms[0], b: interleave.arms[1] } } : {}) };
  }
  if (!(SCENARIOS as readonly string[]).includes(options.scenario)) throw new Error(`--scenario must be one of ${SCENARIOS.join(', ')}, got '${options.scenario}'`);
  return scenarioConfig(options.scenario as Scenario);
}

/** Validates the config as the worker will, against the shipped manifests (no ORT needed). */
function checkConfig(config: ScenarioConfig, manifests: Array<{ manifest: LoadedModel['manifest'] }>): void {
  const models = manifests.map(({ manifest }) => ({ manifest, id: manifest.model.id }) as unknown as LoadedModel);
  const registry = { get: (id: string) => models.find((m) => m.id === id), default: () => models[0]!, list: () => models } as unknown as ModelRegistry;
  compileExperiments(parseExperimentsConfig(config.experiments, 'EXPERIMENTS'), registry, 'var');
}

// ---------------------------------------------------------------------------------------------

async function prepareKv(worldDir: string, worldKey: string): Promise<void> {
  const kv = await openLocalKv({ configPath: join(root, 'wrangler.toml'), persistPath: join(stateDir, 'v3') });
  try {
    const raw = await kv.get(ACTIVE_KEY);
    const active = raw ? parseActiveFeatureSet(JSON.parse(raw)) : null;
    const marker = await kv.get('sim:world');
    if (active && marker === worldKey && !options.refill) {
      log(`simulator KV: feature set ${active.version} (${active.users} users, ${active.items} items) of ${worldDir}`);
      return;
    }
    log(`simulator KV: backfilling ${worldDir} into ${stateDir} (local KV is slow: up to a minute) ...`);
    const result = await backfillWorld(kv, worldDir, { progress: process.stderr.isTTY && !options.json });
    await kv.put('sim:world', worldKey);
    log(`simulator KV: feature set ${result.active.version}, ${result.written} keys in ${result.seconds.toFixed(1)} s`);
  } finally {
    await kv.close();
  }
}

function loopback(url: string): string {
  const u = new URL(url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) throw new Error(`--url must be a loopback address (127.0.0.1, localhost, [::1]), got ${u.hostname}`);
  return u.origin;
}

interface Health {
  feature_set: { version: string | null };
  experiments: { experiment: string; arms: Array<{ name: string; kind: string; share: number }>; error?: string; salt: boolean };
  exposures: { sink: string; written: number; failed: number; pending: number };
}

async function health(base: string): Promise<Health> {
  const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(10_000) });
  return (await res.json()) as Health;
}

// ---------------------------------------------------------------------------------------------

interface Sent {
  request: SimRequest;
  servedIds: string[];
  expectedRevenue: number;
  outcomes: ExposureOutcome[];
}

async function sendTraffic(base: string, world: Parameters<typeof simRequest>[0], runId: string): Promise<{ sent: Sent[]; errors: number; seconds: number }> {
  const sent: Sent[] = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  const deadline = started + options.maxSeconds * 1000;
  let lastReport = started;
  // A bar on a terminal; a line every 10 s otherwise (logs, --json).
  const bar = process.stderr.isTTY && !options.json
    ? new cliProgress.SingleBar({ stream: process.stderr, format: 'requests |{bar}| {value}/{total} | {rate}/s | {errors} failed | ETA {eta_formatted}', hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic)
    : undefined;
  bar?.start(options.requests, 0, { rate: '0', errors: 0 });
  const worker = async () => {
    for (;;) {
      const index = next++;
      if (index >= options.requests || performance.now() > deadline) return;
      const request = simRequest(world, options.seed, runId, index);
      let body: { items?: Array<{ id: string }> } | undefined;
      try {
        const res = await fetch(`${base}/v1/rank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request.body), signal: AbortSignal.timeout(30_000) });
        body = (await res.json()) as typeof body;
        if (!res.ok) throw new Error(`${res.status} ${JSON.stringify(body).slice(0, 200)}`);
      } catch (error) {
        errors++;
        if (errors <= 5) log(`request ${request.requestId} failed: ${error instanceof Error ? error.message : String(error)}`);
        if (errors > Math.max(20, options.requests * 0.01)) throw new Error(`too many failed requests (${errors}); see the worker's log`);
        continue;
      }
      const servedIds = body!.items!.map((i) => i.id);
      const drawn = drawOutcomes(world, options.seed, request, servedIds);
      sent.push({ request, servedIds, expectedRevenue: drawn.expected.revenue, outcomes: drawn.outcomes });
      const now = performance.now();
      bar?.update(sent.length, { rate: Math.round(sent.length / ((now - started) / 1000)), errors });
      if (!bar && now - lastReport > 10_000) {
        lastReport = now;
        log(`  ${sent.length} / ${options.requests} requests (${Math.round(sent.length / ((now - started) / 1000))}/s)`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  } finally {
    bar?.stop();
  }
  return { sent, errors, seconds: (performance.now() - started) / 1000 };
}

/** Waits until the worker has written (or failed) an exposure row for every request it answered. */
async function drainExposures(base: string, expected: number, before: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const h = await health(base);
    const done = h.exposures.written + h.exposures.failed - before;
    if (done >= expected && h.exposures.pending === 0) {
      if (h.exposures.failed > 0) log(`warning: ${h.exposures.failed} exposure rows failed to write (see the worker's log)`);
      return;
    }
    if (Date.now() > deadline) {
      log(`warning: only ${done} of ${expected} exposure rows confirmed written after 120 s; reading what is there`);
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function readRunLog(persistTo: string, runId: string, keep: boolean): Promise<ExposureRow[]> {
  const store = await openLocalLog({ configPath: join(root, 'wrangler.toml'), persistPath: join(persistTo, 'v3') });
  const rows: ExposureRow[] = [];
  const keys: string[] = [];
  try {
    const prefix = `sim-${runId}-`;
    for await (const { key, text } of store.rows()) {
      const row = JSON.parse(text) as ExposureRow;
      if (!row.request_id.startsWith(prefix)) continue;
      rows.push(row);
      keys.push(key);
    }
    if (!keep) await store.delete(keys);
  } finally {
    await store.close();
  }
  const { rows: merged, incomplete } = mergeExposureParts(rows);
  if (incomplete) log(`warning: ${incomplete} split exposure rows are incomplete`);
  return merged;
}

// ---------------------------------------------------------------------------------------------

const fmt = (x: number, digits = 4) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));
const pct = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`;

function printAnalysis(analysis: Analysis, control: string): void {
  const lines: string[] = [];
  lines.push('', 'arm            requests   CTR [95% CI]                 CVR [95% CI]                 revenue/request [95% CI]     expected rev/request');
  for (const [name, a] of Object.entries(analysis.arms)) {
    lines.push(
      `${name.padEnd(14)} ${String(a.requests).padStart(8)}   ${fmt(a.ctr)} [${fmt(a.ctr_ci95[0])}, ${fmt(a.ctr_ci95[1])}]   ${fmt(a.cvr)} [${fmt(a.cvr_ci95[0])}, ${fmt(a.cvr_ci95[1])}]   ${fmt(a.revenue_per_request, 2).padStart(6)} [${fmt(a.revenue_per_request_ci95[0], 2)}, ${fmt(a.revenue_per_request_ci95[1], 2)}]        ${a.expected_revenue_per_request !== undefined ? fmt(a.expected_revenue_per_request, 2) : '-'}`,
    );
  }
  for (const [name, l] of Object.entries(analysis.lift)) {
    lines.push(
      '',
      `lift of ${name} over ${control}: revenue/request ${pct(l.revenue)} [${pct(l.revenue_ci95[0])}, ${pct(l.revenue_ci95[1])}] (p = ${l.revenue_p_value.toExponential(2)}, ${l.revenue_significant ? 'significant' : 'not significant'} at 95%); CTR ${pct(l.ctr)} [${pct(l.ctr_ci95[0])}, ${pct(l.ctr_ci95[1])}]; CVR ${pct(l.cvr)} [${pct(l.cvr_ci95[0])}, ${pct(l.cvr_ci95[1])}]${l.expected_revenue !== undefined ? `; ground-truth expected revenue ${pct(l.expected_revenue)}` : ''}`,
    );
  }
  const i = analysis.interleaving;
  if (i) {
    lines.push(
      '',
      `interleaving ${i.a} vs ${i.b}: ${i.with_clicks} of ${i.requests} requests had clicks; ${i.a} won ${i.wins_a}, ${i.b} won ${i.wins_b}, ${i.ties} ties`,
      `  preference for ${i.a}: ${fmt(i.preference_a, 3)} [${fmt(i.preference_a_ci95[0], 3)}, ${fmt(i.preference_a_ci95[1], 3)}], sign test p = ${i.p_value.toExponential(2)}; click share ${fmt(i.click_share_a, 3)} (${i.clicks_a} vs ${i.clicks_b} clicks)`,
      `  by purchased revenue: ${i.by_revenue.with_purchases} requests had purchases; revenue share of ${i.a} ${fmt(i.by_revenue.revenue_share_a, 3)} [${fmt(i.by_revenue.revenue_share_a_ci95[0], 3)}, ${fmt(i.by_revenue.revenue_share_a_ci95[1], 3)}] (${i.by_revenue.revenue_a.toFixed(0)} vs ${i.by_revenue.revenue_b.toFixed(0)}); ${i.a} - ${i.b} per request ${fmt(i.by_revenue.mean_difference, 3)} [${fmt(i.by_revenue.mean_difference_ci95[0], 3)}, ${fmt(i.by_revenue.mean_difference_ci95[1], 3)}], paired z-test p = ${i.by_revenue.p_value.toExponential(2)}`,
    );
  }
  log(lines.join('\n'));
}

function printRetrain(r: RetrainReport): void {
  log(
    [
      '',
      `retrained ${r.model.id}@${r.model.version} on ${r.train_rows} logged impressions (${r.train_slates} slates; best epoch ${r.best_epoch} of ${r.epochs_run}); written to ${r.model.dir}`,
      `held-out ${r.holdout_slates} requests, ground-truth expected revenue per request of each model's order:`,
      `  shipped   ${fmt(r.shipped.expected_revenue_per_request, 3)} [${fmt(r.shipped.expected_revenue_ci95[0], 3)}, ${fmt(r.shipped.expected_revenue_ci95[1], 3)}]  CTR AUC ${fmt(r.shipped.ctr_auc)}  CTCVR AUC ${fmt(r.shipped.ctcvr_auc)}`,
      `  retrained ${fmt(r.retrained.expected_revenue_per_request, 3)} [${fmt(r.retrained.expected_revenue_ci95[0], 3)}, ${fmt(r.retrained.expected_revenue_ci95[1], 3)}]  CTR AUC ${fmt(r.retrained.ctr_auc)}  CTCVR AUC ${fmt(r.retrained.ctcvr_auc)}`,
      `  (as served ${fmt(r.served_expected_revenue_per_request, 3)}; oracle ${fmt(r.oracle_expected_revenue_per_request, 3)})`,
      `  retrained vs shipped: ${pct(r.revenue_diff)} [${pct(r.revenue_diff_ci95[0])}, ${pct(r.revenue_diff_ci95[1])}] (paired bootstrap): ${r.better ? 'better' : r.at_least_as_good ? 'at least as good (non-inferior within 1%)' : 'NOT shown to be as good'}`,
    ].join('\n'),
  );
}

// ---------------------------------------------------------------------------------------------

/**
 * Recomputes the analysis of an earlier run from its exposures.jsonl and outcomes.jsonl (so a run
 * can be read with the current analysis); the ground-truth expected revenue per arm is kept from
 * the summary, since the per-request values are not stored.
 */
async function reanalyze(runDir: string, summary: SimulationSummary): Promise<void> {
  const readJsonl = async <T>(file: string): Promise<T[]> =>
    (await readFile(join(runDir, file), 'utf8'))
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as T);
  const rows = await readJsonl<ExposureRow>('exposures.jsonl');
  const outcomes = await readJsonl<ExposureOutcome>('outcomes.jsonl');
  const analysis = analyze(rows, outcomes, { control: summary.control });
  for (const [name, arm] of Object.entries(analysis.arms)) {
    const expected = summary.arms[name]?.expected_revenue_per_request;
    if (expected !== undefined) arm.expected_revenue_per_request = expected;
  }
  for (const [name, lift] of Object.entries(analysis.lift)) {
    const expected = summary.lift[name]?.expected_revenue;
    if (expected !== undefined) lift.expected_revenue = expected;
  }
  summary.arms = analysis.arms;
  summary.lift = analysis.lift;
  if (analysis.interleaving) summary.interleaving = analysis.interleaving;
  printAnalysis(analysis, summary.control);
}

/** report.html next to summary.json, and with --png a screenshot of it. */
async function writeReport(runDir: string, summary: SimulationSummary): Promise<void> {
  const reportPath = join(runDir, 'report.html');
  await writeFile(reportPath, renderSimulationReport(summary));
  log(`report: ${reportPath}`);
  if (options.png) {
    const pngPath = typeof options.png === 'string' ? resolve(options.png) : join(runDir, 'report.png');
    const why = await renderPng(reportPath, pngPath, { width: 1180, height: summary.retrain ? 1250 : 900 });
    log(why ? `no PNG: ${why}` : `picture: ${pngPath}`);
  }
}

async function main(): Promise<void> {
  if (options.reportFrom) {
    const runDir = resolve(options.reportFrom);
    const summary = JSON.parse(await readFile(join(runDir, 'summary.json'), 'utf8').catch(() => {
      throw new Error(`${runDir} has no summary.json (a run directory of npm run simulate, under .data/simulate/runs/)`);
    })) as SimulationSummary;
    await reanalyze(runDir, summary);
    await writeFile(join(runDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    await writeReport(runDir, summary);
    return;
  }
  const config = await scenario();
  if (options.printConfig) {
    console.log(JSON.stringify(config.experiments));
    return;
  }
  const models = await shippedModels(root);
  checkConfig(config, models);
  const shipped = models[0]!;
  const settings = (shipped.manifest.training as { world?: WorldSettings } | undefined)?.world;
  if (!settings) throw new Error(`${shipped.dir}/manifest.json has no training.world settings: the simulator needs the world the model was trained on`);
  const { dir: worldDir, world, stale } = await ensureCurrentWorld(settings, join(root, '.data'), log);
  if (stale) log(`note: the world code changed since ${stale}; the simulation uses the current world`);
  const worldKey = JSON.stringify({ dir: worldDir, settings });
  const runId = `${options.scenario}-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(2).toString('hex')}`;
  const runDir = join(simDir, 'runs', runId);
  await mkdir(runDir, { recursive: true });
  log(`run ${runId}: scenario ${options.experiments ?? options.scenario}, ${options.requests} requests, concurrency ${options.concurrency}, seed ${options.seed}; world ${settings.name} (seed ${settings.seed}); output in ${runDir}`);

  let server: DevServer | undefined;
  let base: string;
  let persistTo: string;
  const stop = async () => {
    if (server) await stopWranglerDev(server);
    server = undefined;
  };
  process.on('SIGINT', () => void stop().then(() => process.exit(130)));
  process.on('SIGTERM', () => void stop().then(() => process.exit(143)));
  try {
    if (options.url) {
      base = loopback(options.url);
      if (!options.persistTo) throw new Error('--url needs --persist-to: the state directory of that worker, where its exposure log is');
      persistTo = resolve(options.persistTo);
    } else {
      await prepareKv(worldDir, worldKey);
      log('building the worker bundle (wrangler deploy --dry-run) ...');
      const { script } = await buildBundle(root, join(simDir, 'dist'));
      server = await startWranglerDev({
        root,
        script,
        persistTo: stateDir,
        log: join(runDir, 'wrangler-dev.log'),
        vars: {
          EXPERIMENTS: JSON.stringify(config.experiments),
          // local and throwaway: a secret in production (wrangler secret put)
          EXPERIMENT_SALT: `simulate-salt-${options.seed}`,
          EXPOSURE_SINK: 'kv',
          FEATURE_SET_REFRESH_MS: '600000',
          // Miniflare's local KV is slow: rank every slate rather than fall back with kv_timeout
          RANK_DEADLINE_MS: '60000',
        },
      });
      base = server.base;
      persistTo = stateDir;
      const ms = await waitUntilReady(server, '/healthz');
      log(`worker up on ${base} after ${(ms / 1000).toFixed(1)} s (log: ${server.log})`);
    }
    const h = await health(base);
    if (h.experiments.error) throw new Error(`the worker rejected the experiments config: ${h.experiments.error}`);
    const wanted = (config.experiments.arms as Array<{ name: string }>).map((a) => a.name).join(',');
    if (h.experiments.arms.map((a) => a.name).join(',') !== wanted) throw new Error(`the worker serves arms [${h.experiments.arms.map((a) => a.name).join(', ')}], the scenario needs [${wanted}]; start it with --var EXPERIMENTS:'${JSON.stringify(config.experiments)}'`);
    if (h.exposures.sink !== 'kv') throw new Error(`the worker logs exposures to '${h.exposures.sink}'; the simulator reads the local KV sink: start it with --var EXPOSURE_SINK:kv`);
    if (!h.feature_set.version) throw new Error('the worker serves no feature set (KV is empty?)');
    const before = h.exposures.written + h.exposures.failed;

    log(`sending ${options.requests} requests (${options.concurrency} in flight, at most ${options.maxSeconds} s) ...`);
    const { sent, errors, seconds } = await sendTraffic(base, world, runId);
    log(`${sent.length} requests answered in ${seconds.toFixed(1)} s (${Math.round(sent.length / seconds)}/s), ${errors} failed`);
    await drainExposures(base, sent.length, before);
    await stop();

    const rows = await readRunLog(persistTo, runId, options.keepLog);
    const outcomes = sent.flatMap((s) => s.outcomes);
    await writeFile(join(runDir, 'exposures.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    await writeFile(join(runDir, 'outcomes.jsonl'), outcomes.map((o) => JSON.stringify(o)).join('\n') + '\n');
    log(`exposure log: ${rows.length} rows for ${sent.length} answered requests -> ${join(runDir, 'exposures.jsonl')}; ${outcomes.length} outcomes -> outcomes.jsonl`);
    if (rows.length < sent.length) log(`warning: ${sent.length - rows.length} answered requests have no exposure row`);

    // The served order in each row must be what the client got: the log is the source of truth.
    const servedById = new Map(sent.map((s) => [s.request.requestId, s.servedIds.join(',')]));
    const mismatched = rows.filter((r) => servedById.get(r.request_id) !== r.items.map((i) => i.id).join(',')).length;
    if (mismatched > 0) log(`warning: ${mismatched} exposure rows do not match the response the client saw`);

    const analysis = analyze(rows, outcomes, { control: config.control, expectedRevenue: new Map(sent.map((s) => [s.request.requestId, s.expectedRevenue])) });
    printAnalysis(analysis, config.control);

    let retrain: RetrainReport | undefined;
    if (options.retrain) {
      log('');
      retrain = await retrainAndCompare({
        world,
        rows,
        outcomes,
        requests: new Map(sent.map((s) => [s.request.requestId, s.request])),
        shipped: { manifest: shipped.manifest, int8: new Uint8Array(await readFile(join(shipped.dir, shipped.manifest.files.model))) },
        holdoutFraction: 0.2,
        epochs: options.retrainEpochs,
        seed: options.seed,
        outDir: runDir,
        log,
      });
      printRetrain(retrain);
    }

    const summary = {
      scenario: options.experiments ? 'custom' : options.scenario,
      run: runId,
      run_dir: runDir,
      requests: sent.length,
      failed_requests: errors,
      exposure_rows: rows.length,
      control: config.control,
      arms: analysis.arms,
      lift: analysis.lift,
      ...(analysis.interleaving ? { interleaving: analysis.interleaving } : {}),
      ...(retrain ? { retrain } : {}),
      model: shipped.manifest.model,
      world: { name: settings.name, seed: settings.seed, version: world.describe().version },
      seconds: Math.round((performance.now() - t0) / 1000),
    };
    await writeFile(join(runDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    await writeReport(runDir, summary);
    if (options.json) console.log(JSON.stringify(summary));
  } finally {
    await stop();
  }
}

main().catch((error: unknown) => {
  console.error(`simulate failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
