// npm run soak: load and soak the worker on the real runtime. A fixed number of connections send a
// seeded mix of valid, fault-injected and invalid rank requests for --seconds (default 60) to the
// deployable bundle under `wrangler dev` on a free loopback port, with the soak's own KV under
// .data/soak/state (the tiny world's feature set plus faulty records, scripts/soak/faults.ts).
// Prints requests served, status counts per class, p50/p99, and the worker's memory at the start and
// the end; --json ends with one JSON object. Targets: no 5xx for well-formed requests (valid and
// fault-injected), memory flat. A script, not a test: it is long and the machine is shared.
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { mkdir } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ACTIVE_KEY, parseActiveFeatureSet } from '../model/features/kv-layout.ts';
import { FEATURE_SET_SCHEMA } from '../model/features/records.ts';
import { ensureWorldFiles } from '../model/pipeline/ensure-world.ts';
import { readItems, Rng, WORLD_FILES, worldSettings } from '../model/world/index.ts';
import { backfillWorld } from './backfill/backfill-world.ts';
import { openLocalKv } from './backfill/kv-target.ts';
import { buildBundle } from './bench/bundle.ts';
import { percentile } from './bench/http.ts';
import { benchBodies } from './bench/slates.ts';
import { directEntry, startWranglerDev, stopWranglerDev, waitUntilReady, workerProcess } from './bench/wrangler-dev.ts';
import { writeFaultRecords, type FaultIds } from './soak/faults.ts';
import { runLoad, send, type ClassTally, type Tally } from './soak/load.ts';
import { sampleMemory, slopePerMinute, type MemorySample } from './soak/memory.ts';
import { faultRequests, invalidRequests, REQUEST_CLASSES, requestPicker, type RequestClass, type SoakRequest } from './soak/requests.ts';
import http from 'node:http';

function intOption(flag: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < min || n > max) throw new InvalidArgumentError(`${flag} must be an integer from ${min} to ${max}`);
    return n;
  };
}

function mixOption(value: string): Record<RequestClass, number> {
  const parts = value.split(',').map(Number);
  if (parts.length !== 3 || parts.some((p) => !Number.isFinite(p) || p < 0) || parts.every((p) => p === 0)) {
    throw new InvalidArgumentError('--mix is three non-negative weights: valid,fault,invalid (e.g. 70,15,15)');
  }
  return { valid: parts[0]!, fault: parts[1]!, invalid: parts[2]! };
}

const options = new Command()
  .name('npm run soak --')
  .description('Load and soak /v1/rank on workerd (wrangler dev, local KV) with valid, fault-injected and invalid requests; reports status counts, latency and the worker\'s memory.')
  .option('--seconds <s>', 'length of the soak', intOption('--seconds', 1, 86_400), 60)
  .option('--concurrency <n>', 'connections, each sending one request at a time', intOption('--concurrency', 1, 256), 8)
  .addOption(new Option('--mix <weights>', 'relative shares of valid, fault-injected and invalid requests').argParser(mixOption).default({ valid: 70, fault: 15, invalid: 15 }, '70,15,15'))
  .option('--seed <n>', 'seed of the request choice', intOption('--seed', 0, 2 ** 31), 1)
  .option('--sample-every <s>', 'seconds between memory samples during the soak', intOption('--sample-every', 1, 3_600), 5)
  .option('--var <name:value...>', 'extra wrangler vars for the worker under test (e.g. EXPOSURE_SINK:off)', [])
  .option('--refill', 'backfill the soak KV again even if it holds a feature set', false)
  .option('--json', 'print one JSON object as the last line', false)
  .parse()
  .opts<{ seconds: number; concurrency: number; mix: Record<RequestClass, number>; seed: number; sampleEvery: number; var: string[]; refill: boolean; json: boolean }>();

/** Exposures to the local KV sink unless --var says otherwise: Miniflare's local Queue stalls the worker after a few large rows. */
function extraVars(): Record<string, string> {
  return { EXPOSURE_SINK: 'kv', ...varsFromFlags() };
}

function varsFromFlags(): Record<string, string> {
  return Object.fromEntries(
    options.var.map((pair) => {
      const at = pair.indexOf(':');
      if (at < 1) throw new Error(`--var takes NAME:value, got '${pair}'`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

const root = resolve(import.meta.dirname, '..');
const dataDir = join(root, '.data');
const soakDir = join(dataDir, 'soak');
const stateDir = join(soakDir, 'state');
const t0 = performance.now();
const log = (message: string) => console.error(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${message}`);

/** Fills the soak's KV (once) and (re)writes the faulty records under the live version. */
async function prepareKv(worldDir: string): Promise<{ version: string; faults: FaultIds }> {
  const kv = await openLocalKv({ configPath: join(root, 'wrangler.toml'), persistPath: join(stateDir, 'v3') });
  try {
    const raw = await kv.get(ACTIVE_KEY);
    let active = raw ? parseActiveFeatureSet(JSON.parse(raw)) : null;
    if (!active || active.schema !== FEATURE_SET_SCHEMA || options.refill) {
      log(`soak KV: backfilling the tiny world into ${stateDir} ...`);
      const result = await backfillWorld(kv, worldDir, { progress: process.stderr.isTTY && !options.json });
      active = result.active;
    }
    const faults = await writeFaultRecords(kv, active.version);
    log(`soak KV: feature set ${active.version} (${active.users} users, ${active.items} items) + ${faults.users.length} fault users, ${faults.items.length} fault items (some never written)`);
    return { version: active.version, faults };
  } finally {
    await kv.close();
  }
}

const round = (value: number | null, digits = 1): number | null => (value === null || !Number.isFinite(value) ? null : Math.round(value * 10 ** digits) / 10 ** digits);

function classSummary(t: ClassTally) {
  return {
    count: t.count,
    statuses: t.statuses,
    status_5xx: t.status_5xx,
    unexpected: t.unexpected,
    resets_after_early_refusal: t.resets_after_early_refusal,
    p50_ms: round(percentile(t.latencies, 50), 2),
    p99_ms: round(percentile(t.latencies, 99), 2),
    kinds: t.kinds,
    ...(t.errors.length > 0 ? { first_errors: t.errors } : {}),
  };
}

async function main(): Promise<void> {
  await mkdir(soakDir, { recursive: true });
  const world = await ensureWorldFiles(worldSettings('tiny'), dataDir, log);
  const { faults } = await prepareKv(world);
  const itemIds: string[] = [];
  for await (const item of readItems(join(world, WORLD_FILES.items))) itemIds.push(item.item_id);
  const bodies = await benchBodies(world, [10, 100, 300], 8);
  const pools: Record<RequestClass, SoakRequest[]> = {
    valid: [...bodies.bySize].flatMap(([size, list]) => list.map((body) => ({ class: 'valid' as const, kind: `items-${size}`, method: 'POST' as const, contentType: 'application/json', body }))),
    fault: faultRequests(faults, itemIds, Rng.stream(options.seed, 'soak-faults')),
    invalid: invalidRequests(itemIds),
  };

  log('bundle: wrangler deploy --dry-run ...');
  const { script } = await buildBundle(root, join(soakDir, 'dist'));
  log('starting wrangler dev (workerd) on the bundle ...');
  // BENCH_ROUTES: /bench/noop (readiness, finding workerd's own socket) and /bench/stats (ORT's wasm memory).
  const server = await startWranglerDev({ root, script, persistTo: stateDir, log: join(soakDir, 'wrangler-dev.log'), vars: { ...extraVars(), BENCH_ROUTES: 'on' } });
  const stop = () => void stopWranglerDev(server).finally(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await waitUntilReady(server, '/bench/noop');
    const direct = await directEntry(server, '/bench/noop');
    const base = direct ?? server.base;
    const pid = await workerProcess(server);
    const endpoint = direct ? `workerd directly (${direct})` : `wrangler dev's proxy (${server.base})`;

    // Warm-up: every request once, then valid ones until ORT has tiered up, so the start figure is
    // the steady state and not the cold isolate.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (const request of [...pools.valid, ...pools.fault, ...pools.invalid]) {
      const outcome = await send(agent, base, request, 60_000);
      if (request.class !== 'invalid' && outcome.status !== 200) log(`  warm-up: ${request.kind} answered ${outcome.status || outcome.error}`);
    }
    for (let i = 0; i < 100; i++) await send(agent, base, pools.valid[i % pools.valid.length]!, 60_000);
    agent.destroy();

    const samples: MemorySample[] = [await sampleMemory({ base, inspectorPort: server.inspectorPort, pid, t: 0 })];
    const loadStart = loadavg();
    log(`soak: ${options.seconds} s, ${options.concurrency} connections, mix valid/fault/invalid ${options.mix.valid}/${options.mix.fault}/${options.mix.invalid}, at ${endpoint}`);

    const bar =
      process.stderr.isTTY && !options.json
        ? new cliProgress.SingleBar({ stream: process.stderr, format: 'soak {bar} {value}/{total} s | {requests} requests | {rps}/s | well-formed 5xx {w5xx} | RSS {rss} MB', hideCursor: true }, cliProgress.Presets.shades_classic)
        : undefined;
    bar?.start(options.seconds, 0, { requests: 0, rps: 0, w5xx: 0, rss: '-' });
    let sampling = true;
    const started = performance.now();
    const sampler = (async () => {
      while (sampling) {
        await new Promise((r) => setTimeout(r, options.sampleEvery * 1000));
        if (!sampling) break;
        samples.push(await sampleMemory({ base, inspectorPort: server.inspectorPort, pid, t: (performance.now() - started) / 1000 }));
      }
    })();
    const onTick = (elapsed: number, tally: Tally) => {
      const rss = samples.at(-1)?.rss_mb;
      bar?.update(Math.min(options.seconds, Math.round(elapsed)), {
        requests: tally.requests.toLocaleString('en-US'),
        rps: Math.round(tally.requests / Math.max(elapsed, 1e-3)),
        w5xx: tally.classes.valid.status_5xx + tally.classes.fault.status_5xx,
        rss: rss != null ? rss.toFixed(0) : '-',
      });
      if (!bar && !options.json && Math.round(elapsed) % 10 === 0) log(`  ${Math.round(elapsed)} s: ${tally.requests} requests`);
    };
    const { tally, seconds } = await runLoad({ base, concurrency: options.concurrency, seconds: options.seconds, seed: options.seed, pick: requestPicker(pools, options.mix), onTick });
    sampling = false;
    bar?.update(options.seconds);
    bar?.stop();
    await sampler;
    samples.push(await sampleMemory({ base, inspectorPort: server.inspectorPort, pid, t: seconds }));
    report(tally, seconds, samples, endpoint, loadStart);
  } finally {
    await stopWranglerDev(server);
  }
}

function report(tally: Tally, seconds: number, samples: MemorySample[], endpoint: string, loadStart: number[]): void {
  const start = samples[0]!;
  const end = samples.at(-1)!;
  const all = REQUEST_CLASSES.flatMap((c) => tally.classes[c].latencies);
  const statuses: Record<string, number> = {};
  for (const c of REQUEST_CLASSES) for (const [s, n] of Object.entries(tally.classes[c].statuses)) statuses[s] = (statuses[s] ?? 0) + n;
  const useIsolate = start.isolate_mb !== null && end.isolate_mb !== null;
  const max = (field: 'isolate_mb' | 'rss_mb') => samples.reduce<number | null>((m, s) => (s[field] === null ? m : Math.max(m ?? 0, s[field]!)), null);
  const rssGrowth = start.rss_mb !== null && end.rss_mb !== null ? (end.rss_mb - start.rss_mb) / start.rss_mb : null;
  const isolateGrowth = useIsolate ? end.isolate_mb! - start.isolate_mb! : null;
  // "Flat": RSS within 10% of the start, and the isolate (an upper bound, garbage included) within 10 MB.
  const flat = (rssGrowth === null || rssGrowth < 0.1) && (isolateGrowth === null || isolateGrowth < 10);
  const wellFormed5xx = tally.classes.valid.status_5xx + tally.classes.fault.status_5xx;
  const summary = {
    seconds: round(seconds, 1),
    concurrency: options.concurrency,
    vars: extraVars(),
    mix: options.mix,
    endpoint,
    requests: tally.requests,
    requests_per_second: round(tally.requests / seconds, 1),
    statuses,
    p50_ms: round(percentile(all, 50), 2),
    p99_ms: round(percentile(all, 99), 2),
    valid: classSummary(tally.classes.valid),
    fault: classSummary(tally.classes.fault),
    invalid: classSummary(tally.classes.invalid),
    well_formed_5xx: wellFormed5xx,
    memory_mb: {
      source: useIsolate ? 'isolate: V8 heap used (DevTools) + ORT wasm memory' : 'workerd RSS',
      start: round(useIsolate ? start.isolate_mb : start.rss_mb),
      end: round(useIsolate ? end.isolate_mb : end.rss_mb),
      max: round(max(useIsolate ? 'isolate_mb' : 'rss_mb')),
      heap_start: round(start.heap_mb),
      heap_end: round(end.heap_mb),
      wasm_start: round(start.wasm_mb),
      wasm_end: round(end.wasm_mb),
      rss_start: round(start.rss_mb),
      rss_end: round(end.rss_mb),
      rss_max: round(max('rss_mb')),
      isolate_slope_mb_per_min: round(slopePerMinute(samples, 'isolate_mb'), 2),
      rss_slope_mb_per_min: round(slopePerMinute(samples, 'rss_mb'), 2),
      samples: samples.map((s) => ({ t: round(s.t, 0), isolate: round(s.isolate_mb), rss: round(s.rss_mb) })),
    },
    targets: { valid_5xx_zero: tally.classes.valid.status_5xx === 0, well_formed_5xx_zero: wellFormed5xx === 0, memory_flat: flat },
    load_average: { start: loadStart.map((l) => round(l, 2)), end: loadavg().map((l) => round(l, 2)) },
  };

  const line = (c: RequestClass) => {
    const s = summary[c];
    const codes = Object.entries(s.statuses).map(([code, n]) => `${code === '0' ? 'socket error' : code}: ${n}`).join(', ');
    const resets = s.resets_after_early_refusal > 0 ? ` (${s.resets_after_early_refusal} of them resets of a connection reused after a 413/415)` : '';
    return `  ${c.padEnd(8)} ${String(s.count).padStart(7)}  5xx ${s.status_5xx}${resets}  unexpected ${s.unexpected}  p50 ${s.p50_ms} ms  p99 ${s.p99_ms} ms  (${codes})`;
  };
  const mem = summary.memory_mb;
  console.log(`soak: ${summary.seconds} s at ${options.concurrency} connections against ${endpoint}`);
  console.log(`  ${tally.requests.toLocaleString('en-US')} requests served (${summary.requests_per_second}/s); all: p50 ${summary.p50_ms} ms, p99 ${summary.p99_ms} ms`);
  for (const c of REQUEST_CLASSES) console.log(line(c));
  for (const c of REQUEST_CLASSES) for (const error of tally.classes[c].errors) console.log(`    ${c}: ${error}`);
  console.log(`  memory, isolate (V8 heap incl. uncollected garbage + ORT wasm): start ${mem.heap_start ?? 'n/a'} + ${mem.wasm_start ?? 'n/a'} MB, end ${mem.heap_end ?? 'n/a'} + ${mem.wasm_end ?? 'n/a'} MB (slope ${mem.isolate_slope_mb_per_min ?? 'n/a'} MB/min)`);
  console.log(`  memory, workerd RSS: start ${mem.rss_start ?? 'n/a'} MB, end ${mem.rss_end ?? 'n/a'} MB, max ${mem.rss_max ?? 'n/a'} MB (slope ${mem.rss_slope_mb_per_min ?? 'n/a'} MB/min)`);
  console.log(`  targets: valid 5xx = 0: ${summary.targets.valid_5xx_zero ? 'met' : 'MISSED'}; fault-injected 5xx = 0: ${summary.fault.status_5xx === 0 ? 'met' : 'MISSED'}; memory flat (RSS +<10%, isolate +<10 MB): ${flat ? 'met' : 'MISSED'}`);
  console.log(`  load average (1/5/15 min): ${summary.load_average.start.join(' ')} at the start, ${summary.load_average.end.join(' ')} at the end (2 vCPUs, shared)`);
  if (options.json) console.log(JSON.stringify(summary));
}

main().catch((error: unknown) => {
  console.error(`soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});
