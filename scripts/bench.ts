// npm run bench: the worker's serving performance in one run, against the real runtime (workerd via
// `wrangler dev` on a free loopback port, with its own KV state under .data/bench/), beside the
// targets of issue 4. A script, not a test: it prints figures, it asserts nothing.
//
//  1. KV: the demo world's feature set (the backfill code npm start uses), kept between runs
//  2. bundle: `wrangler deploy --dry-run --outdir`, raw and gzip
//  3. cold start: the first /v1/rank of a fresh wrangler dev (models preloaded at start-up, and
//     with ORT_PRELOAD=off, where that request starts ORT itself), and the start-up's CPU as
//     `wrangler check startup` profiles it
//  4. latency of /v1/rank for 10, 100, 500 items, interleaved with a no-op route that reads the same
//     body (so transport cancels out), warm record cache and cold (cache flushed before each)
//  5. model time in workerd (a bench route runs the session N times) beside onnxruntime-node on the
//     same model and the same input tensors
//  6. requests per second for 100-item slates (autocannon, 10 connections, 10 s), and of the no-op
//     route under the same load (the floor of the machine and runtime), at a socket straight into
//     the worker (bench/direct-worker.ts: Miniflare's dev-only entry worker costs ~0.23 ms a
//     request), and through wrangler dev as well
//  7. memory after 10,000 requests of 500 items: the isolate's V8 heap (DevTools protocol; as read,
//     and what is left after the full GC of a heap snapshot) and the
//     RSS of the worker's workerd process
//
// The bench routes exist only because this script starts wrangler dev with --var BENCH_ROUTES:on.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { Command, Option } from 'commander';
import * as ortNode from 'onnxruntime-node';
import { ACTIVE_KEY, parseActiveFeatureSet } from '../model/features/kv-layout.ts';
import { FEATURE_SET_SCHEMA } from '../model/features/records.ts';
import { backfillWorld } from './backfill/backfill-world.ts';
import { openLocalKv } from './backfill/kv-target.ts';
import { intArg } from '../model/commands/args.ts';
import { buildBundle, measureBundle } from './bench/bundle.ts';
import { BenchClient, median, percentile, type Timed } from './bench/http.ts';
import { cpuProfile, isolateHeap, retainedHeap, selfTimes, type HeapUsage } from './bench/inspector.ts';
import { benchBodies } from './bench/slates.ts';
import { startDirectWorker } from './bench/direct-worker.ts';
import { startupCpuMs } from './bench/startup.ts';
import { directEntry, processMemory, startWranglerDev, stopWranglerDev, waitUntilReady, workerProcess, type DevServer } from './bench/wrangler-dev.ts';
import { ensureDemoWorld } from './demo/demo-world.ts';
import { shippedModels } from './demo/shipped-models.ts';

const program = new Command()
  .name('npm run bench --')
  .description('Measure /v1/rank on workerd (wrangler dev, local KV) against the performance targets; prints a table.')
  .option('--samples <n>', 'timed request pairs (rank + no-op) per slate size, warm cache', intArg(1), 500)
  .option('--cold-samples <n>', 'timed requests per slate size with the record cache flushed before each', intArg(1), 60)
  .option('--rps-seconds <s>', 'duration of the requests-per-second run', intArg(1), 10)
  .option('--connections <n>', 'concurrent connections of the requests-per-second and memory runs', intArg(1), 10)
  .option('--cold-starts <n>', 'fresh wrangler dev instances whose first /v1/rank is timed (median reported), with models preloaded and again with ORT_PRELOAD=off', intArg(1), 3)
  .option('--heap-requests <n>', '500-item requests sent before the memory is read (0 skips it)', intArg(0), 10_000)
  .addOption(new Option('--ort-level <level>', 'ORT_GRAPH_OPTIMIZATION of the worker under test (default: the worker\'s, basic)').choices(['basic', 'all']))
  .option('--cpu-profile <file>', 'also record a V8 CPU profile of the isolate over warm 100-item requests (.cpuprofile, for DevTools) and print its top functions')
  .option('--refill', 'backfill the bench KV again even if it holds a feature set', false)
  .option('--json', 'print one JSON object as the last line', false)
  .parse();

const options = program.opts<{ samples: number; coldSamples: number; rpsSeconds: number; connections: number; coldStarts: number; heapRequests: number; ortLevel?: string; cpuProfile?: string; refill: boolean; json: boolean }>();

const root = resolve(import.meta.dirname, '..');
const dataDir = join(root, '.data');
const benchDir = join(dataDir, 'bench');
const stateDir = join(benchDir, 'state');
const SIZES = [10, 100, 500] as const;
const VARIANTS = 16;
const t0 = performance.now();
const log = (message: string) => console.log(message.startsWith('  ') || message === '' ? message : `[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${message}`);

// ---------------------------------------------------------------------------------------------

async function prepareKv(worldDir: string): Promise<string> {
  // wrangler dev --persist-to <dir> keeps its state in <dir>/v3; the backfill opens that directly.
  const kv = await openLocalKv({ configPath: join(root, 'wrangler.toml'), persistPath: join(stateDir, 'v3') });
  try {
    const raw = await kv.get(ACTIVE_KEY);
    const active = raw ? parseActiveFeatureSet(JSON.parse(raw)) : null;
    if (active && active.schema === FEATURE_SET_SCHEMA && !options.refill) {
      log(`bench KV: feature set ${active.version} (${active.users} users, ${active.items} items) in ${stateDir}`);
      return active.version;
    }
    log(`bench KV: backfilling the demo world into ${stateDir} (local KV is slow: about a minute) ...`);
    const result = await backfillWorld(kv, worldDir, { progress: process.stderr.isTTY && !options.json });
    log(`bench KV: feature set ${result.active.version}, ${result.written} keys in ${result.seconds.toFixed(1)} s`);
    return result.active.version;
  } finally {
    await kv.close();
  }
}

interface BundleSize {
  /** the bundle's entry module, served by the bench */
  script: string;
  raw_bytes: number;
  gzip_bytes: number;
  /** wrangler's own "Total Upload: ... / gzip: ..." line */
  wrangler_says: string | null;
}

async function bundleSize(): Promise<BundleSize> {
  const outdir = join(benchDir, 'dist');
  const { script, output } = await buildBundle(root, outdir);
  const { raw, gzip } = await measureBundle(outdir);
  const line = /Total Upload:[^\n]*/.exec(output);
  return { script, raw_bytes: raw, gzip_bytes: gzip, wrangler_says: line ? line[0].trim() : null };
}

// ---------------------------------------------------------------------------------------------

interface Latency {
  /** client-side, rank minus no-op at the same percentile */
  p50: number;
  p99: number;
  noop_p50: number;
  noop_p99: number;
  rank_p50: number;
  rank_p99: number;
  /** the worker's own Server-Timing total (workerd's clock: whole ms locally, advances on I/O) */
  server_p50: number;
  server_p99: number;
  /** p50 of each Server-Timing stage */
  stages_p50: Record<string, number>;
  /** mean of each Server-Timing stage over the slowest 1% of rank requests (where p99 comes from) */
  stages_slowest: Record<string, number>;
  /**
   * KV bulk reads the isolate sent during the warm run (background refreshes of stale records and
   * misses): locally each one runs Miniflare's KV simulator on workerd's own thread (~20 ms per 100
   * keys), stalling whatever request is in flight; at the edge it is network I/O.
   */
  kv_bulk_reads: number;
}

interface ColdLatency {
  /** client-side, minus the warm no-op p50 */
  p50: number;
  p99: number;
  rank_p50: number;
  kv_p50: number;
  kv_p99: number;
  server_p50: number;
}

async function kvBulkReads(client: BenchClient): Promise<number> {
  const stats = JSON.parse((await client.ok('GET', '/bench/stats')).body) as { store: { kv_bulk_reads: number } };
  return stats.store.kv_bulk_reads;
}

async function warmLatency(client: BenchClient, bodies: string[], samples: number): Promise<Latency> {
  const rank: Timed[] = [];
  const noop: Timed[] = [];
  const readsBefore = await kvBulkReads(client);
  for (let i = 0; i < samples; i++) {
    const body = bodies[i % bodies.length]!;
    // alternate the order too, so neither always follows the other
    if (i % 2) {
      noop.push(await client.ok('POST', '/bench/noop', body));
      rank.push(await client.ok('POST', '/v1/rank', body));
    } else {
      rank.push(await client.ok('POST', '/v1/rank', body));
      noop.push(await client.ok('POST', '/bench/noop', body));
    }
  }
  const kvReads = (await kvBulkReads(client)) - readsBefore;
  for (const r of rank) if (JSON.parse(r.body).fallback !== null) throw new Error(`a bench rank request fell back: ${r.body.slice(0, 200)}`);
  const ms = (list: Timed[]) => list.map((t) => t.ms);
  const server = rank.map((t) => t.serverTiming.total ?? Number.NaN);
  return {
    p50: percentile(ms(rank), 50) - percentile(ms(noop), 50),
    p99: percentile(ms(rank), 99) - percentile(ms(noop), 99),
    noop_p50: percentile(ms(noop), 50),
    noop_p99: percentile(ms(noop), 99),
    rank_p50: percentile(ms(rank), 50),
    rank_p99: percentile(ms(rank), 99),
    server_p50: percentile(server, 50),
    server_p99: percentile(server, 99),
    stages_p50: Object.fromEntries(Object.keys(rank[0]?.serverTiming ?? {}).map((stage) => [stage, percentile(rank.map((t) => t.serverTiming[stage] ?? Number.NaN), 50)])),
    stages_slowest: slowestStages(rank),
    kv_bulk_reads: kvReads,
  };
}

function slowestStages(rank: readonly Timed[]): Record<string, number> {
  const slowest = [...rank].sort((a, b) => b.ms - a.ms).slice(0, Math.max(1, Math.ceil(rank.length / 100)));
  const stages = Object.keys(rank[0]?.serverTiming ?? {});
  return Object.fromEntries(stages.map((stage) => [stage, Math.round((10 * slowest.reduce((sum, t) => sum + (t.serverTiming[stage] ?? 0), 0)) / slowest.length) / 10]));
}

async function coldLatency(client: BenchClient, bodies: string[], samples: number, noopP50: number): Promise<ColdLatency> {
  const rank: Timed[] = [];
  for (let i = 0; i < samples; i++) {
    await client.ok('POST', '/bench/cache/flush');
    rank.push(await client.ok('POST', '/v1/rank', bodies[i % bodies.length]!));
  }
  const ms = rank.map((t) => t.ms);
  const kv = rank.map((t) => t.serverTiming.kv ?? Number.NaN);
  return {
    p50: percentile(ms, 50) - noopP50,
    p99: percentile(ms, 99) - noopP50,
    rank_p50: percentile(ms, 50),
    kv_p50: percentile(kv, 50),
    kv_p99: percentile(kv, 99),
    server_p50: percentile(rank.map((t) => t.serverTiming.total ?? Number.NaN), 50),
  };
}

// ---------------------------------------------------------------------------------------------

interface ModelTime {
  rows: number;
  /** time per session run in workerd at each graph optimisation level */
  workerd_ms: Record<'basic' | 'all', number>;
  native_ms: number;
  /** largest |p_ctr or p_cvr difference| between workerd (basic) and onnxruntime-node on these inputs */
  max_abs_diff: number;
}

interface BenchModelResponse {
  rows: number;
  p_ctr: number[];
  p_cvr: number[];
  inputs: Record<string, { dtype: 'float32' | 'int32' | 'int64'; width: number; data: number[] }>;
}

const LEVELS = ['basic', 'all'] as const;

async function modelTime(client: BenchClient, body: string, modelBytes: Uint8Array, runs: number, reps = 7): Promise<ModelTime> {
  const first = JSON.parse((await client.ok('POST', '/bench/model?runs=1&inputs=1&level=basic', body)).body) as BenchModelResponse;
  // workerd's clock does not advance inside a CPU-bound loop, so time from outside:
  // (T(runs) - T(1)) / (runs - 1) is the session's time per run, HTTP and assembly cancelled out.
  // Both levels run in the same process, interleaved, so load from elsewhere hits both alike.
  for (const level of LEVELS) await client.ok('POST', `/bench/model?runs=50&level=${level}`, body);
  const perRun: Record<string, number[]> = { basic: [], all: [] };
  for (let r = 0; r < reps; r++) {
    for (const level of LEVELS) {
      const one = await client.ok('POST', `/bench/model?runs=1&level=${level}`, body);
      const many = await client.ok('POST', `/bench/model?runs=${runs}&level=${level}`, body);
      perRun[level]!.push((many.ms - one.ms) / (runs - 1));
    }
  }

  // onnxruntime-node on the same model and the same tensors, with the worker's session settings.
  const session = await ortNode.InferenceSession.create(modelBytes, { graphOptimizationLevel: 'basic', intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const feeds: Record<string, ortNode.Tensor> = {};
    for (const [name, input] of Object.entries(first.inputs)) {
      const data = input.dtype === 'float32' ? Float32Array.from(input.data) : input.dtype === 'int32' ? Int32Array.from(input.data) : BigInt64Array.from(input.data.map(BigInt));
      feeds[name] = new ortNode.Tensor(input.dtype, data, [first.rows, input.width]);
    }
    let out = await session.run(feeds);
    let diff = 0;
    const pCtr = out.p_ctr?.data as Float32Array | undefined;
    const pCvr = out.p_cvr?.data as Float32Array | undefined;
    for (let i = 0; i < first.rows; i++) {
      if (pCtr) diff = Math.max(diff, Math.abs(pCtr[i]! - first.p_ctr[i]!));
      if (pCvr) diff = Math.max(diff, Math.abs(pCvr[i]! - first.p_cvr[i]!));
    }
    for (let i = 0; i < 50; i++) out = await session.run(feeds);
    const native: number[] = [];
    for (let r = 0; r < reps; r++) {
      const started = performance.now();
      for (let i = 0; i < runs; i++) out = await session.run(feeds);
      native.push((performance.now() - started) / runs);
    }
    return { rows: first.rows, workerd_ms: { basic: median(perRun.basic!), all: median(perRun.all!) }, native_ms: median(native), max_abs_diff: diff };
  } finally {
    await session.release();
  }
}

interface Throughput {
  rps: number;
  latency_p50_ms: number;
  latency_p99_ms: number;
  requests: number;
  /** connection errors and timeouts */
  errors: number;
  non2xx: number;
  /** status code -> count, non-2xx answers only */
  non2xx_codes: Record<string, number>;
}

/**
 * Requests per second of /v1/rank and of the no-op at a socket bound straight to the worker
 * (direct-worker.ts says why), after every body has been ranked once and ORT warmed.
 */
async function directThroughput(script: string, rankBodies: string[], vars: Record<string, string>): Promise<{ rps: Throughput; rpsNoop: Throughput }> {
  const worker = await startDirectWorker({ root, script, persistTo: stateDir, vars });
  const client = new BenchClient(worker.base);
  try {
    for (let i = 0; i < Math.max(60, rankBodies.length); i++) await client.ok('POST', '/v1/rank', rankBodies[i % rankBodies.length]!);
    const rps = await throughput(worker.base, rankBodies, { connections: options.connections, duration: options.rpsSeconds });
    const rpsNoop = await throughput(worker.base, rankBodies, { connections: options.connections, duration: options.rpsSeconds, path: '/bench/noop' });
    return { rps, rpsNoop };
  } finally {
    client.close();
    await worker.dispose();
  }
}

async function throughput(base: string, bodies: string[], opts: { connections: number; duration?: number; amount?: number; path?: string }): Promise<Throughput> {
  const path = opts.path ?? '/v1/rank';
  const result = await autocannon({
    url: `${base}${path}`,
    connections: opts.connections,
    pipelining: 1,
    timeout: 30,
    ...(opts.amount !== undefined ? { amount: opts.amount } : { duration: opts.duration ?? 10 }),
    requests: bodies.map((body) => ({ method: 'POST' as const, path, headers: { 'content-type': 'application/json' }, body })),
  });
  return {
    rps: result.requests.total / result.duration,
    latency_p50_ms: result.latency.p50,
    latency_p99_ms: result.latency.p99,
    requests: result.requests.total,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    non2xx_codes: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).filter(([code]) => !code.startsWith('2')).map(([code, stat]) => [code, stat?.count ?? 0])),
  };
}

// ---------------------------------------------------------------------------------------------

interface Memory {
  requests: number;
  heap_before: HeapUsage | null;
  heap_after: HeapUsage | null;
  /** after a full GC (heap_after includes garbage not collected yet) */
  heap_retained_after: HeapUsage | null;
  rss_before_mb: number | null;
  rss_after_mb: number | null;
  peak_rss_mb: number | null;
  /** ORT's wasm linear memory (counts against the isolate's limit beside the V8 heap) */
  wasm_before_mb: number | null;
  wasm_after_mb: number | null;
  cache: { entries: number; approx_bytes: number } | null;
  /** connection errors and timeouts */
  errors: number;
  /** status code -> count of non-2xx answers */
  non2xx_codes: Record<string, number>;
}

interface BenchStats {
  cache: { entries: number; approx_bytes: number };
  ort_wasm_memory_bytes: number | null;
}

async function memoryAfterLoad(server: DevServer, base: string, client: BenchClient, bodies: string[], requests: number): Promise<Memory> {
  const pid = await workerProcess(server);
  const heap = () => isolateHeap(server.inspectorPort).catch((error: unknown) => {
    log(`  (isolate heap unavailable: ${error instanceof Error ? error.message : String(error)})`);
    return null;
  });
  const stats = async () => JSON.parse((await client.ok('GET', '/bench/stats')).body) as BenchStats;
  const heapBefore = await heap();
  const statsBefore = await stats();
  const rssBefore = pid !== undefined ? await processMemory(pid) : undefined;
  const run = await throughput(base, bodies, { connections: options.connections, amount: requests });
  const heapAfter = await heap();
  const heapRetained = await retainedHeap(server.inspectorPort).catch((error: unknown) => {
    log(`  (retained heap unavailable: ${error instanceof Error ? error.message : String(error)})`);
    return null;
  });
  const statsAfter = await stats();
  const rssAfter = pid !== undefined ? await processMemory(pid) : undefined;
  const wasmMb = (s: BenchStats) => (s.ort_wasm_memory_bytes !== null ? s.ort_wasm_memory_bytes / 2 ** 20 : null);
  return {
    requests: run.requests,
    heap_before: heapBefore,
    heap_after: heapAfter,
    heap_retained_after: heapRetained,
    rss_before_mb: rssBefore?.rss_mb ?? null,
    rss_after_mb: rssAfter?.rss_mb ?? null,
    peak_rss_mb: rssAfter?.peak_rss_mb ?? null,
    wasm_before_mb: wasmMb(statsBefore),
    wasm_after_mb: wasmMb(statsAfter),
    cache: { entries: statsAfter.cache.entries, approx_bytes: statsAfter.cache.approx_bytes },
    errors: run.errors,
    non2xx_codes: run.non2xx_codes,
  };
}

/** The first /v1/rank of a fresh wrangler dev (new workerd, new isolate), after the no-op answers. */
async function extraColdStart(script: string, body: string, vars: Record<string, string>): Promise<Timed> {
  const server = await startWranglerDev({ root, script, persistTo: stateDir, log: join(benchDir, 'wrangler-dev-cold.log'), vars });
  const client = new BenchClient(server.base);
  try {
    await waitUntilReady(server, '/bench/noop');
    return await client.ok('POST', '/v1/rank', body);
  } finally {
    client.close();
    await stopWranglerDev(server);
  }
}

// ---------------------------------------------------------------------------------------------

const fmt = (ms: number, digits = 2) => (Number.isFinite(ms) ? `${ms.toFixed(digits)} ms` : 'n/a');
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;

function table(rows: Array<[string, string, string, boolean | null]>): string {
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const w2 = Math.max(...rows.map((r) => r[2].length));
  return rows
    .map(([figure, measured, target, ok]) => `  ${figure.padEnd(w0)}  ${measured.padStart(w1)}  ${target.padEnd(w2)}  ${ok === null ? '' : ok ? 'ok' : 'MISSED'}`)
    .join('\n');
}

/** --cpu-profile: 1,000 warm 100-item requests under the V8 profiler; writes the profile, prints where the time went. */
async function profileWarmRequests(server: DevServer, client: BenchClient, bodies: readonly string[], file: string): Promise<void> {
  const requests = 1000;
  log(`cpu profile: ${requests} warm 100-item requests under the profiler ...`);
  const profile = await cpuProfile(server.inspectorPort, async () => {
    for (let i = 0; i < requests; i++) await client.ok('POST', '/v1/rank', bodies[i % bodies.length]!);
  });
  await writeFile(file, JSON.stringify(profile));
  const top = selfTimes(profile).slice(0, 25);
  const lines = top.map((t) => `  ${(t.ms / requests).toFixed(3).padStart(7)} ms/request  ${(100 * t.share).toFixed(1).padStart(5)}%  ${t.name}`);
  log(`cpu profile written to ${file}; self time per request, top functions:\n${lines.join('\n')}`);
}

async function main(): Promise<void> {
  await mkdir(benchDir, { recursive: true });
  const world = await ensureDemoWorld(root, dataDir);
  const featureSet = await prepareKv(world.dir);
  const bodies = await benchBodies(world.dir, SIZES, VARIANTS);
  const [model] = await shippedModels(root);
  const modelBytes = new Uint8Array(await readFile(join(model!.dir, model!.manifest.files.model)));

  log('bundle: wrangler deploy --dry-run ...');
  const bundle = await bundleSize();

  log(`bundle: ${mb(bundle.gzip_bytes)} gzip; starting wrangler dev (workerd) on it with the bench routes ...`);
  // Cold 500-item slates take ~200 ms on Miniflare's local KV: a long deadline, so they are ranked (and timed) rather than fall back.
  // Exposure logging off: its write runs after the response (waitUntil) and Miniflare's local Queue
  // stalls the worker after a few 500-item rows (README, "Platform notes").
  const vars = { BENCH_ROUTES: 'on', RANK_DEADLINE_MS: '60000', EXPOSURE_SINK: 'off', ...(options.ortLevel ? { ORT_GRAPH_OPTIMIZATION: options.ortLevel } : {}) };
  const server = await startWranglerDev({ root, script: bundle.script, persistTo: stateDir, log: join(benchDir, 'wrangler-dev.log'), vars });
  const stop = () => {
    void stopWranglerDev(server).finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const clients: BenchClient[] = [];
  try {
    // Ready = the no-op answers: the isolate is up (with its models, unless ORT_PRELOAD=off); KV is untouched.
    const devStartMs = await waitUntilReady(server, '/bench/noop');
    const publicClient = new BenchClient(server.base);
    clients.push(publicClient);
    const coldFirst = await publicClient.ok('POST', '/v1/rank', bodies.bySize.get(100)![0]!);
    log(`cold first /v1/rank (100 items): ${fmt(coldFirst.ms, 1)} client, Server-Timing ${JSON.stringify(coldFirst.serverTiming)}`);

    // Measure at the worker's own workerd when it can be found (wrangler's proxy adds a hop and a
    // second process); the no-op subtraction removes the transport either way.
    const direct = await directEntry(server, '/bench/noop');
    const base = direct ?? server.base;
    const endpoint = direct ? `workerd directly (${direct}), bypassing wrangler's proxy` : `wrangler dev's proxy (${server.base})`;
    log(`measuring at ${endpoint}`);
    const client = new BenchClient(base);
    clients.push(client);

    // Warm the record cache with every body, and ORT (its first ~50 runs are slower).
    for (const size of SIZES) for (const body of bodies.bySize.get(size)!) await client.ok('POST', '/v1/rank', body);
    for (let i = 0; i < 60; i++) await client.ok('POST', '/v1/rank', bodies.bySize.get(100)![i % VARIANTS]!);

    const warm = new Map<number, Latency>();
    const cold = new Map<number, ColdLatency>();
    for (const size of SIZES) {
      log(`latency, ${size} items: ${options.samples} warm pairs, ${options.coldSamples} cold ...`);
      const w = await warmLatency(client, bodies.bySize.get(size)!, options.samples);
      warm.set(size, w);
      cold.set(size, await coldLatency(client, bodies.bySize.get(size)!, options.coldSamples, w.noop_p50));
      // The cold run flushed every record: warm them all again, or the next size's "warm" run reads
      // its records from KV on the request path (its p99 was those reads).
      for (const each of SIZES) for (const body of bodies.bySize.get(each)!) await client.ok('POST', '/v1/rank', body);
    }

    if (options.cpuProfile) await profileWarmRequests(server, client, bodies.bySize.get(100)!, resolve(options.cpuProfile));

    log('model time: workerd (basic and all) vs onnxruntime-node ...');
    const model100 = await modelTime(client, bodies.bySize.get(100)![0]!, modelBytes, 201);
    const model500 = await modelTime(client, bodies.bySize.get(500)![0]!, modelBytes, 81);

    log(`requests per second through wrangler dev, 100 items, ${options.connections} connections, ${options.rpsSeconds} s ...`);
    const rpsEntry = await throughput(base, bodies.bySize.get(100)!, { connections: options.connections, duration: options.rpsSeconds });
    const rpsProxy = direct ? await throughput(server.base, bodies.bySize.get(100)!, { connections: options.connections, duration: options.rpsSeconds }) : rpsEntry;
    // The floor: the no-op route (reads the same body, answers {}) under the same load, so the
    // machine's and runtime's own ceiling stands beside the rank figure.
    const rpsNoopEntry = await throughput(base, bodies.bySize.get(100)!, { connections: options.connections, duration: options.rpsSeconds, path: '/bench/noop' });

    let memory: Memory | null = null;
    if (options.heapRequests > 0) {
      log(`memory: ${options.heapRequests} requests of 500 items ...`);
      memory = await memoryAfterLoad(server, base, client, bodies.bySize.get(500)!, options.heapRequests);
    }

    // More cold starts, one fresh wrangler dev at a time (the first request varies a lot).
    for (const c of clients) c.close();
    await stopWranglerDev(server);
    log(`requests per second at a socket straight into the worker (no Miniflare entry worker), 100 items, ${options.connections} connections, ${options.rpsSeconds} s ...`);
    // Should Miniflare's direct socket fail here (another Miniflare, another platform), the figures
    // through the entry worker stand in, and the JSON says so (rps_endpoint).
    const measured = await directThroughput(bundle.script, bodies.bySize.get(100)!, vars).catch((error: unknown) => {
      log(`  the socket into the worker failed (${error instanceof Error ? error.message : String(error)}); requests per second through the entry worker stand in`);
      return null;
    });
    const { rps, rpsNoop } = measured ?? { rps: rpsEntry, rpsNoop: rpsNoopEntry };
    const rpsEndpoint = measured ? 'direct' : 'entry-worker';
    const coldStarts = [coldFirst.ms];
    for (let i = 1; i < options.coldStarts; i++) {
      log(`cold start ${i + 1} of ${options.coldStarts}: a fresh wrangler dev ...`);
      coldStarts.push((await extraColdStart(bundle.script, bodies.bySize.get(100)![0]!, vars)).ms);
    }
    const coldFirstMs = median(coldStarts);
    const lazyStarts: number[] = [];
    for (let i = 0; i < options.coldStarts; i++) {
      log(`cold start ${i + 1} of ${options.coldStarts} with ORT_PRELOAD=off: a fresh wrangler dev ...`);
      lazyStarts.push((await extraColdStart(bundle.script, bodies.bySize.get(100)![0]!, { ...vars, ORT_PRELOAD: 'off' })).ms);
    }
    const coldFirstLazyMs = median(lazyStarts);
    log('start-up CPU: wrangler check startup ...');
    const startupMs = await startupCpuMs(root);

    // ---------------------------------------------------------------- report
    const rows: Array<[string, string, string, boolean | null]> = [];
    for (const size of SIZES) {
      const w = warm.get(size)!;
      const c = cold.get(size)!;
      const isTarget = size === 100;
      rows.push([`${size} items warm p50 above no-op`, fmt(w.p50), isTarget ? '<= 1.0 ms' : '', isTarget ? w.p50 <= 1.0 : null]);
      rows.push([`${size} items warm p99 above no-op`, fmt(w.p99), isTarget ? '<= 3 ms' : '', isTarget ? w.p99 <= 3 : null]);
      rows.push([`${size} items warm client p50 / p99 (no-op p50 / p99)`, `${fmt(w.rank_p50)} / ${fmt(w.rank_p99)} (${fmt(w.noop_p50)} / ${fmt(w.noop_p99)})`, '', null]);
      rows.push([`${size} items warm Server-Timing total p50 / p99`, `${fmt(w.server_p50)} / ${fmt(w.server_p99)}`, '', null]);
      rows.push([`${size} items warm Server-Timing stages p50`, Object.entries(w.stages_p50).filter(([k]) => k !== 'total').map(([k, v]) => `${k} ${v}`).join(', '), '', null]);
      rows.push([`${size} items warm slowest 1%: mean Server-Timing stages (KV bulk reads in the run)`, `${Object.entries(w.stages_slowest).map(([k, v]) => `${k} ${v}`).join(', ')} (${w.kv_bulk_reads})`, '', null]);
      rows.push([`${size} items cold cache p50 above no-op (KV p50)`, `${fmt(c.p50)} (${fmt(c.kv_p50)})`, 'reported only', null]);
    }
    const served = (options.ortLevel === 'all' ? 'all' : 'basic') as 'basic' | 'all';
    const ratio = (m: ModelTime, level: 'basic' | 'all') => m.workerd_ms[level] / m.native_ms;
    for (const m of [model100, model500]) {
      rows.push([`model time ${m.rows} rows: workerd basic / all, native basic`, `${fmt(m.workerd_ms.basic, 3)} / ${fmt(m.workerd_ms.all, 3)}, ${fmt(m.native_ms, 3)}`, '', null]);
      rows.push([`model time ratio vs native, ${m.rows} rows (served level, ${served})`, `${ratio(m, served).toFixed(2)}x`, '<= 3x', ratio(m, served) <= 3]);
    }
    rows.push([`req/s, 100 items, ${options.connections} connections (one workerd, ${measured ? 'socket into the worker' : 'through the entry worker'})`, rps.rps.toFixed(0), '>= 1000', rps.rps >= 1000]);
    rows.push(['  req/s of the no-op route, same body and load (the floor)', `${rpsNoop.rps.toFixed(0)} (${fmt(1000 / rpsNoop.rps, 2)} per request; rank ${fmt(1000 / rps.rps, 2)})`, '', null]);
    rows.push(['req/s through Miniflare\'s entry worker (wrangler dev\'s workerd), rank / no-op', `${rpsEntry.rps.toFixed(0)} / ${rpsNoopEntry.rps.toFixed(0)}`, 'dev only', null]);
    if (direct) rows.push(['req/s through wrangler dev\'s proxy', rpsProxy.rps.toFixed(0), '', null]);
    rows.push([`cold first /v1/rank, median of ${coldStarts.length} fresh wrangler devs (models loaded at start-up)`, fmt(coldFirstMs, 1), '<= 300 ms', coldFirstMs <= 300]);
    rows.push([`  the same with ORT_PRELOAD=off (ORT started by that request)`, fmt(coldFirstLazyMs, 1), '', null]);
    rows.push(['worker start-up CPU (wrangler check startup, under its profiler)', fmt(startupMs, 0), 'Cloudflare limit 1 s', startupMs <= 1000]);
    rows.push(['bundle gzip (raw)', `${mb(bundle.gzip_bytes)} (${mb(bundle.raw_bytes)})`, '<= 5 MB', bundle.gzip_bytes <= 5e6]);
    if (memory) {
      const heapAfter = memory.heap_after;
      const isolateMb = heapAfter && memory.wasm_after_mb !== null ? heapAfter.used_mb + memory.wasm_after_mb : null;
      rows.push([
        `isolate after ${memory.requests} x 500 items: V8 heap + ORT wasm`,
        isolateMb !== null ? `${heapAfter!.used_mb.toFixed(1)} + ${memory.wasm_after_mb!.toFixed(1)} = ${isolateMb.toFixed(1)} MiB` : 'n/a',
        '< 128 MB',
        isolateMb !== null ? isolateMb < 128 : null,
      ]);
      rows.push([
        '  of which retained: V8 heap after a full GC (heap snapshot) + ORT wasm',
        memory.heap_retained_after && memory.wasm_after_mb !== null ? `${memory.heap_retained_after.used_mb.toFixed(1)} + ${memory.wasm_after_mb.toFixed(1)} = ${(memory.heap_retained_after.used_mb + memory.wasm_after_mb).toFixed(1)} MiB` : 'n/a',
        '',
        null,
      ]);
      rows.push(['  the same before the run', memory.heap_before && memory.wasm_before_mb !== null ? `${memory.heap_before.used_mb.toFixed(1)} + ${memory.wasm_before_mb.toFixed(1)} MiB` : 'n/a', '', null]);
      rows.push(['workerd RSS after (before, peak)', memory.rss_after_mb !== null ? `${memory.rss_after_mb.toFixed(0)} MiB (${memory.rss_before_mb?.toFixed(0)}, ${memory.peak_rss_mb?.toFixed(0)})` : 'n/a', 'process, not isolate', null]);
    }
    log('');
    log(`edge-ranker bench: model ${model!.manifest.model.id}@${model!.manifest.model.version} (ORT graph optimisation ${options.ortLevel ?? 'basic'}), feature set ${featureSet}, measured at ${endpoint}`);
    log(table(rows));
    log('');
    log(`  cold first requests: ${coldStarts.map((ms) => fmt(ms, 0)).join(', ')} (with ORT_PRELOAD=off: ${lazyStarts.map((ms) => fmt(ms, 0)).join(', ')}); the first one's Server-Timing ${JSON.stringify(coldFirst.serverTiming)}`);
    log(`  wrangler dev's own start to the first no-op: ${fmt(devStartMs, 0)}`);
    log(`  model parity workerd vs onnxruntime-node: max |diff| ${Math.max(model100.max_abs_diff, model500.max_abs_diff).toExponential(1)}`);
    log(`  autocannon 100 items: p50 ${rps.latency_p50_ms} ms, p99 ${rps.latency_p99_ms} ms, ${rps.errors} connection errors or timeouts, non-2xx answers ${JSON.stringify(rps.non2xx_codes)}`);
    if (bundle.wrangler_says) log(`  wrangler: ${bundle.wrangler_says}`);
    if (memory?.cache) log(`  record cache after the memory run: ${memory.cache.entries} entries, ~${mb(memory.cache.approx_bytes)}; ${memory.errors} connection errors or timeouts, non-2xx answers ${JSON.stringify(memory.non2xx_codes)}`);
    log('  for scale: Metarank publishes ~7 ms p50 / 10 ms p99 at 100 items');
    log('  "above no-op": client-side percentile of /v1/rank minus the same percentile of POST /bench/noop with the same body');
    log('  Server-Timing: workerd reports whole milliseconds locally and advances its clock only across I/O');

    if (options.json) {
      const rankMs: Record<string, unknown> = {};
      for (const size of SIZES) {
        const w = warm.get(size)!;
        const c = cold.get(size)!;
        rankMs[String(size)] = {
          p50: round(w.p50),
          p99: round(w.p99),
          noop_p50: round(w.noop_p50),
          cold_cache_p50: round(c.p50),
          client_p50: round(w.rank_p50),
          client_p99: round(w.rank_p99),
          noop_p99: round(w.noop_p99),
          server_timing_p50: w.server_p50,
          server_timing_p99: w.server_p99,
          server_timing_stages_p50: w.stages_p50,
          server_timing_stages_slowest_1pct: w.stages_slowest,
          kv_bulk_reads_during_warm_run: w.kv_bulk_reads,
          cold_cache_kv_p50: c.kv_p50,
        };
      }
      console.log(
        JSON.stringify({
          rank_ms: rankMs,
          model_ratio_vs_native: { '100': round(ratio(model100, served)), '500': round(ratio(model500, served)) },
          model_ratio_vs_native_at_all: { '100': round(ratio(model100, 'all')), '500': round(ratio(model500, 'all')) },
          model_ms: {
            '100': { workerd_basic: round(model100.workerd_ms.basic, 4), workerd_all: round(model100.workerd_ms.all, 4), native: round(model100.native_ms, 4) },
            '500': { workerd_basic: round(model500.workerd_ms.basic, 4), workerd_all: round(model500.workerd_ms.all, 4), native: round(model500.native_ms, 4) },
          },
          rps_100: Math.round(rps.rps),
          rps_100_via_wrangler_proxy: Math.round(rpsProxy.rps),
          rps_noop_100: Math.round(rpsNoop.rps),
          rps_100_via_entry_worker: Math.round(rpsEntry.rps),
          rps_noop_100_via_entry_worker: Math.round(rpsNoopEntry.rps),
          rps_endpoint: rpsEndpoint,
          cold_first_ms: round(coldFirstMs, 1),
          cold_first_ms_samples: coldStarts.map((ms) => round(ms, 1)),
          cold_first_ms_without_preload: round(coldFirstLazyMs, 1),
          cold_first_ms_without_preload_samples: lazyStarts.map((ms) => round(ms, 1)),
          startup_cpu_ms: round(startupMs, 1),
          bundle_gzip_bytes: bundle.gzip_bytes,
          bundle_raw_bytes: bundle.raw_bytes,
          heap_mb_after_10k_500: memory?.heap_after ? round(memory.heap_after.used_mb, 1) : null,
          heap_mb_retained_after_10k_500: memory?.heap_retained_after ? round(memory.heap_retained_after.used_mb, 1) : null,
          ort_wasm_mb_after_10k_500: memory?.wasm_after_mb != null ? round(memory.wasm_after_mb, 1) : null,
          rss_mb_after_10k_500: memory?.rss_after_mb !== null && memory?.rss_after_mb !== undefined ? round(memory.rss_after_mb, 1) : null,
          memory_requests: memory?.requests ?? 0,
          memory_errors: memory?.errors ?? 0,
          memory_non2xx_codes: memory?.non2xx_codes ?? {},
          endpoint: direct ? 'workerd' : 'wrangler-proxy',
          ort_graph_optimization: options.ortLevel ?? 'basic',
        }),
      );
    }
  } finally {
    for (const c of clients) c.close();
    await stopWranglerDev(server);
  }
}

function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});

