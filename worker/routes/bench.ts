// Bench-only routes for `npm run bench` (scripts/bench.ts). They answer 404 like any unknown path
// unless the wrangler var BENCH_ROUTES is "on", which only the bench sets (`wrangler dev --var
// BENCH_ROUTES:on`); wrangler.toml leaves it unset, so a deploy never exposes them.
//   GET|POST /bench/noop        the floor: reads the body (if any) and answers {}; no KV, no model
//   POST /bench/cache/flush     empties this isolate's record cache (?active=1: and the fs:active copy)
//   POST /bench/model?runs=N    a rank request's slate assembled once, then the ORT session run N times
//                               (?inputs=1 also returns the assembled tensors, for onnxruntime-node;
//                               ?level=basic|extended|all uses a separate session at that level)
//   GET  /bench/stats           record cache and KV counters of this isolate, ORT's wasm memory
import { Hono } from 'hono';
import { itemKey, userKey } from '../../model/features/kv-layout.ts';
import { contextRecord, type RawRecord } from '../../model/features/records.ts';
import type { SlateRecords } from '../../model/features/assemble.ts';
import type { AppEnv } from '../env.ts';
import { featureStore } from '../features/store-instance.ts';
import { ApiError } from '../http/errors.ts';
import { readJsonBody } from '../http/json-body.ts';
import { GRAPH_OPTIMIZATION_LEVELS, type GraphOptimizationLevel, type LoadedModel } from '../model/loaded-model.ts';
import { ortWasmMemoryBytes } from '../ort/runtime.ts';
import { parseRankRequest } from '../rank/schema.ts';

export const benchRoutes = new Hono<AppEnv>();

/** Sessions at other optimisation levels, made on demand by /bench/model?level= (bench only). */
const variants = new Map<string, LoadedModel>();

benchRoutes.use('/bench/*', async (c, next) => {
  if (c.env.BENCH_ROUTES !== 'on') {
    throw new ApiError(404, 'not_found', `no route for ${c.req.method} ${new URL(c.req.url).pathname}`);
  }
  await next();
});

benchRoutes.on(['GET', 'POST'], '/bench/noop', async (c) => {
  if (c.req.raw.body) await c.req.raw.arrayBuffer();
  return c.json({});
});

benchRoutes.post('/bench/cache/flush', (c) => {
  const store = featureStore(c.env);
  const dropped = store.flush({ active: c.req.query('active') === '1' });
  return c.json({ dropped });
});

benchRoutes.get('/bench/stats', (c) => {
  const store = featureStore(c.env);
  const memory = (performance as unknown as { memory?: Record<string, number> }).memory;
  return c.json({
    cache: { entries: store.cache.size, approx_bytes: store.cache.bytes, version: store.cache.version, ...store.cache.stats },
    store: store.counters,
    performance_memory: memory ? { ...memory } : null,
    ort_wasm_memory_bytes: ortWasmMemoryBytes() ?? null,
  });
});

benchRoutes.post('/bench/model', async (c) => {
  const runs = Number(c.req.query('runs') ?? '1');
  if (!Number.isInteger(runs) || runs < 1 || runs > 10_000) throw new ApiError(400, 'invalid_request', 'runs must be an integer in 1..10000');
  const request = parseRankRequest(await readJsonBody(c));
  const served = c.get('registry').default(c.env.DEFAULT_MODEL);
  const level = c.req.query('level');
  let model = served;
  if (level !== undefined) {
    if (!(GRAPH_OPTIMIZATION_LEVELS as readonly string[]).includes(level)) throw new ApiError(400, 'invalid_request', 'level must be basic, extended or all');
    const key = `${served.id}@${level}`;
    model = variants.get(key) ?? variants.set(key, served.atLevel(level as GraphOptimizationLevel)).get(key)!;
  }
  const store = featureStore(c.env);
  const active = await store.activeFeatureSet();
  let user: RawRecord | undefined;
  let stored: Array<RawRecord | null> = [];
  if (active && active.schema === model.manifest.feature_set.schema) {
    const keys = request.items.map((item) => itemKey(active.version, item.id));
    if (request.user_id !== undefined) keys.push(userKey(active.version, request.user_id));
    const records = await store.getRecords(keys);
    stored = records.slice(0, request.items.length);
    if (request.user_id !== undefined) user = records[request.items.length] ?? undefined;
  }
  const slate: SlateRecords = {
    userId: request.user_id,
    user,
    context: contextRecord(request.context, new Date()),
    items: request.items.map(({ id, ...inline }, i) => ({ id, stored: stored[i] ?? undefined, inline: Object.keys(inline).length > 0 ? (inline as RawRecord) : undefined })),
  };
  const started = performance.now();
  const scores = await model.scoreRepeatedly(slate, runs);
  const elapsed = performance.now() - started;
  let inputs: Record<string, { dtype: string; width: number; data: number[] }> | undefined;
  if (c.req.query('inputs') === '1') {
    const buffers = model.assembler.allocate(slate.items.length);
    model.assembler.fill(slate, buffers);
    inputs = Object.fromEntries(buffers.map((b) => [b.name, { dtype: b.dtype, width: b.width, data: Array.from(b.data, Number) }]));
  }
  return c.json({
    runs,
    rows: slate.items.length,
    // workerd advances its clock only across I/O, so this usually reads 0: time from the client.
    worker_ms: elapsed,
    p_ctr: Array.from(scores.pCtr),
    p_cvr: Array.from(scores.pCvr),
    ...(inputs ? { inputs } : {}),
  });
});
