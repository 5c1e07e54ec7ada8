// Faults, injected through the real bindings inside workerd: the Hono app over a registry the test
// builds (bundled, corrupt, missing or mis-described models), with a KV binding wrapped to throw or
// hang, or real KV values that are corrupt or carry NaN, Infinity and wrong types. A well-formed
// request must still get a 200 within its deadline, with `fallback` naming the reason and
// `fallback_order` saying what was served, and /healthz must count it and say "degraded".
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { ACTIVE_KEY, itemKey, userKey } from '../../model/features/kv-layout.ts';
import { FEATURE_SET_SCHEMA } from '../../model/features/records.ts';
import { createApp } from '../../worker/app.ts';
import { EXPERIMENTS_KV_KEY } from '../../worker/experiments/source.ts';
import { featureStore } from '../../worker/features/store-instance.ts';
import { bundledModels } from '../../worker/model/bundled-models.ts';
import { ModelRegistry, type BundledModel } from '../../worker/model/registry.ts';
import { fixtureAndModel, putAll } from './helpers.ts';

const fixture = inject('rankFixture');
const shipped = bundledModels[0]!;
const requestIds = fixture.request.items.map((i) => i.id);
const storedItems = new Map(fixture.kv.filter((p) => p.key.includes(':i:')).map((p) => [p.key.split(':i:')[1]!, JSON.parse(p.value) as Record<string, unknown>]));

interface Body {
  items: Array<{ id: string; score: number; p_ctr: number | null; p_cvr: number | null }>;
  fallback: string | null;
  fallback_order?: string;
  model: { id: string; version: string };
  feature_set: string | null;
}

interface Health {
  status: string;
  degraded?: string[];
  model: { id: string | null; loaded: boolean; error?: string };
  fallbacks: { served: number; total: Record<string, number>; recent: Record<string, number>; window_ms: number; last: { reason: string; error: string } | null };
}

type Mode = { kind: 'pass' } | { kind: 'throw' } | { kind: 'hang' } | { kind: 'delay'; ms: number };

/** The real KV, with bulk reads (records), single reads (fs:active, config) or both faulted on demand. */
function faultyKv(options: { bulk?: Mode; single?: Mode; singleKey?: string; active?: string } = {}) {
  const calls = { bulk: 0, single: 0 };
  const apply = (mode: Mode | undefined, real: () => Promise<unknown>): Promise<unknown> => {
    switch (mode?.kind) {
      case 'throw':
        return Promise.reject(new Error('KV is down (injected)'));
      case 'hang':
        return new Promise(() => undefined);
      case 'delay':
        return new Promise((resolve, reject) => setTimeout(() => real().then(resolve, reject), mode.ms));
      default:
        return real();
    }
  };
  const get = env.FEATURES.get as (k: unknown, t: unknown) => Promise<unknown>;
  const kv = {
    get(key: string | string[], type?: unknown) {
      if (Array.isArray(key)) {
        calls.bulk++;
        return apply(options.bulk, () => get.call(env.FEATURES, key, type));
      }
      calls.single++;
      if (key === ACTIVE_KEY && options.active !== undefined) return Promise.resolve(options.active);
      const mode = options.singleKey === undefined || options.singleKey === key ? options.single : undefined;
      return apply(mode, () => get.call(env.FEATURES, key, type));
    },
    put: env.FEATURES.put.bind(env.FEATURES),
    list: env.FEATURES.list.bind(env.FEATURES),
  } as unknown as KVNamespace;
  return { kv, calls };
}

function appOver(bundled: readonly BundledModel[]) {
  const registry = new ModelRegistry(bundled);
  return { registry, app: createApp(() => registry) };
}

/** Calls the app with extra bindings and an ExecutionContext; `tasks` are its waitUntil promises. */
async function call(app: ReturnType<typeof createApp>, path: string, bindings: Record<string, unknown>, body?: unknown) {
  const tasks: Promise<unknown>[] = [];
  const ctx = { waitUntil: (p: Promise<unknown>) => void tasks.push(p), passThroughOnException: () => undefined, props: {} } as unknown as ExecutionContext;
  const started = Date.now();
  const res = await app.request(
    `http://worker.test${path}`,
    body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
    { ...env, ...bindings },
    ctx,
  );
  const json = (await res.json()) as any;
  return { res, json, ms: Date.now() - started, tasks };
}

const quietly = () => vi.spyOn(console, 'error').mockImplementation(() => undefined);

/** The popularity prior's order of the fixture slate: stored click_coec descending, ties in request order. */
function priorOrder(ids: readonly string[]): string[] {
  const coec = (id: string) => {
    const v = storedItems.get(id)?.click_coec;
    return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0;
  };
  return ids.map((id, i) => ({ id, i, v: coec(id) })).sort((a, b) => b.v - a.v || a.i - b.i).map((x) => x.id);
}

let versionCounter = 0;
const freshVersion = () => `fs-faults-${Date.now()}-${versionCounter++}`;
const activeFor = (version: string) => JSON.stringify({ version, schema: FEATURE_SET_SCHEMA, written_at: '', users: 1, items: 1 });

const { app: shippedApp, registry: shippedRegistry } = appOver(bundledModels);

beforeAll(fixtureAndModel(fixture.kv, shippedRegistry), 120_000);

describe('KV faults', () => {
  it('KV get throws: 200 in the request order, fallback kv_error, counted by /healthz, which says degraded', async () => {
    const { app } = appOver(bundledModels);
    await app.request('http://worker.test/healthz', {}, env); // warm nothing: a fresh app's counters
    const { kv } = faultyKv({ bulk: { kind: 'throw' } });
    const logged = quietly();
    try {
      const { res, json } = await call(app, '/v1/rank', { FEATURES: kv }, fixture.request);
      expect(res.status).toBe(200);
      expect(json.fallback).toBe('kv_error');
      expect(json.fallback_order).toBe('request');
      expect(json.items.map((i: { id: string }) => i.id)).toEqual(requestIds);
      const health = (await call(app, '/healthz', {})).json as Health;
      expect(health.status).toBe('degraded');
      expect(health.degraded).toContain('fallbacks');
      expect(health.fallbacks.total.kv_error).toBe(1);
      expect(health.fallbacks.recent).toEqual({ kv_error: 1 });
      expect(health.fallbacks.last?.error).toMatch(/KV is down/);
      expect(health.fallbacks.served).toBe(1);
    } finally {
      logged.mockRestore();
    }
  });

  it('a record read that hangs: 200 within the deadline with kv_timeout; the late read is abandoned cleanly and fills the cache', async () => {
    const { kv, calls } = faultyKv({ bulk: { kind: 'delay', ms: 400 } });
    const logged = quietly();
    try {
      const first = await call(shippedApp, '/v1/rank', { FEATURES: kv, RANK_DEADLINE_MS: '50' }, fixture.request);
      expect(first.res.status).toBe(200);
      expect(first.json.fallback).toBe('kv_timeout');
      expect(first.json.items.map((i: { id: string }) => i.id)).toEqual(requestIds);
      // the deadline plus slack for a loaded machine, far below the 400 ms the read takes
      expect(first.ms).toBeLessThan(50 + 250);
      // the read the request gave up on completes under waitUntil, without an unhandled rejection ...
      await Promise.all(first.tasks);
      // ... and its records now serve the next request from the cache, within the deadline
      const reads = calls.bulk;
      const second = await call(shippedApp, '/v1/rank', { FEATURES: kv, RANK_DEADLINE_MS: '50' }, fixture.request);
      expect(second.json.fallback).toBeNull();
      expect(calls.bulk).toBe(reads);
    } finally {
      logged.mockRestore();
    }
  });

  it('a read that never answers: 200 within the deadline, for fs:active and for the records alike', async () => {
    const logged = quietly();
    try {
      for (const faulted of [faultyKv({ bulk: { kind: 'hang' } }), faultyKv({ single: { kind: 'hang' }, singleKey: ACTIVE_KEY })]) {
        // the experiments config is read first and is fine; fs:active or the records hang
        const { res, json, ms } = await call(shippedApp, '/v1/rank', { FEATURES: faulted.kv, RANK_DEADLINE_MS: '50' }, fixture.request);
        expect(res.status).toBe(200);
        expect(json.fallback).toBe('kv_timeout');
        expect(ms).toBeLessThan(50 + 250);
      }
    } finally {
      logged.mockRestore();
    }
  });

  it('the experiments config read hangs on a cold isolate: the request still answers within its deadline', async () => {
    const { kv } = faultyKv({ single: { kind: 'hang' }, singleKey: EXPERIMENTS_KV_KEY });
    // a fresh app: the config is read for the first time (its model session is made first: a cold
    // session's start-up is CPU the deadline does not cover)
    const { app, registry } = appOver(bundledModels);
    await registry.default().ready();
    const logged = quietly();
    try {
      const { res, json, ms } = await call(app, '/v1/rank', { FEATURES: kv, RANK_DEADLINE_MS: '50' }, fixture.request);
      expect(res.status).toBe(200);
      expect(json.arm).toBe('default');
      expect(ms).toBeLessThan(50 + 250);
      const health = (await call(app, '/healthz', { FEATURES: kv })).json as Health & { experiments: { error?: string } };
      expect(health.status).toBe('degraded');
      expect(health.experiments.error).toMatch(/config:experiments/);
    } finally {
      logged.mockRestore();
    }
  });

  it('corrupt JSON, NaN-like text, Infinity and wrong types in the records: scored with defaults, never a fault', async () => {
    const version = freshVersion();
    const ids = ['bad-json', 'not-object', 'infinite', 'wrong-types', 'null-record', 'fine'];
    await putAll([
      { key: itemKey(version, 'bad-json'), value: '{"price": 12, "category": ' },
      { key: itemKey(version, 'not-object'), value: '[1, 2, 3]' },
      // 1e999 parses to Infinity; NaN has no JSON form, so it arrives as text or as a bare token (corrupt)
      { key: itemKey(version, 'infinite'), value: '{"price": 1e999, "rating": -1e999, "click_coec": 1e999, "age_days": "NaN", "impressions": "Infinity"}' },
      { key: itemKey(version, 'wrong-types'), value: '{"price": "12.5", "category": 7, "brand": {"x": 1}, "rating": [5], "segment_coec": "high", "brand_segment_affinity": [1, 2], "cvr": true, "clicks": null}' },
      { key: itemKey(version, 'null-record'), value: 'null' },
      { key: itemKey(version, 'fine'), value: JSON.stringify(storedItems.get(requestIds[0]!)) },
      { key: userKey(version, 'u-corrupt'), value: '{"segment": 3, "tenure_days": "long", "category_affinity": [0.5], "brand_affinity": {"b": "NaN"}, "avg_click_price": 1e999, "click_coec": NaN}' },
    ]);
    const { kv } = faultyKv({ active: activeFor(version) });
    const { res, json } = await call(shippedApp, '/v1/rank', { FEATURES: kv }, { user_id: 'u-corrupt', items: ids.map((id) => ({ id })), explain: true });
    expect(res.status).toBe(200);
    expect(json.fallback).toBeNull();
    expect(json.feature_set).toBe(version);
    expect(json.items.map((i: { id: string }) => i.id).sort()).toEqual([...ids].sort());
    for (const item of json.items as Array<Body['items'][number] & { features: Record<string, number> }>) {
      expect(item.p_ctr).toBeGreaterThanOrEqual(0);
      expect(item.p_ctr).toBeLessThanOrEqual(1);
      expect(Number.isFinite(item.score)).toBe(true);
      for (const v of Object.values(item.features)) expect(Number.isFinite(v)).toBe(true);
    }
    // the unparseable values were counted, not trusted: bad-json, not-object, null-record, the user
    expect(featureStore({ ...env, FEATURES: kv }).counters.corrupt_values).toBe(4);
  });

  it('a corrupt fs:active pointer: scored with defaults (no feature set), not a fault', async () => {
    const { kv } = faultyKv({ active: '{"version": ' });
    const { res, json } = await call(shippedApp, '/v1/rank', { FEATURES: kv }, fixture.request);
    expect(res.status).toBe(200);
    expect(json.fallback).toBeNull();
    expect(json.feature_set).toBeNull();
  });
});

describe('model faults', () => {
  const garbage = new Uint8Array(4096).map((_, i) => (i * 31 + 7) & 255).buffer;
  const manifest = shipped.manifest as { inputs: Array<{ name: string; dtype: string }> };
  // the manifest names an input the graph does not have: ORT throws on every run
  const misdescribed = { ...manifest, inputs: manifest.inputs.map((input, i) => (i === 1 ? { ...input, name: 'not_an_input' } : input)) };

  // loaded: whether a session can be created (ORT throwing at run time is only seen when scoring)
  const cases: Array<{ name: string; bundled: BundledModel[]; error: RegExp; loaded: boolean }> = [
    { name: 'corrupt model bytes', bundled: [{ manifest: shipped.manifest, bytes: garbage }], error: /./, loaded: false },
    { name: 'a missing model file (no bytes)', bundled: [{ manifest: shipped.manifest, bytes: new ArrayBuffer(0) }], error: /./, loaded: false },
    { name: 'ORT throwing at run time (manifest and graph disagree)', bundled: [{ manifest: misdescribed, bytes: shipped.bytes }], error: /not_an_input|input/i, loaded: true },
    { name: 'a bad bundled manifest (the registry loads no model)', bundled: [{ manifest: { model: { id: 'broken' } }, bytes: shipped.bytes }], error: /broken/, loaded: false },
    { name: 'a missing manifest', bundled: [{ manifest: undefined, bytes: shipped.bytes }], error: /#0/, loaded: false },
  ];

  for (const { name, bundled, error, loaded } of cases) {
    it(`${name}: 200 in the popularity prior's order with model_error; /healthz degraded with the error`, async () => {
      const { app } = appOver(bundled);
      const logged = quietly();
      try {
        const { res, json } = await call(app, '/v1/rank', {}, fixture.request);
        expect(res.status).toBe(200);
        expect(json.fallback).toBe('model_error');
        // the records were read: the items' stored click_coec orders the slate
        expect(json.fallback_order).toBe('popularity');
        expect(json.items.map((i: { id: string }) => i.id)).toEqual(priorOrder(requestIds));
        expect(json.items.every((i: Body['items'][number]) => i.p_ctr === null)).toBe(true);
        // k and the rules still apply to a fallback
        const top = await call(app, '/v1/rank', {}, { ...fixture.request, k: 3, rules: { pin: [{ id: requestIds[5]!, position: 1 }] } });
        expect(top.json.items.map((i: { id: string }) => i.id)).toEqual([requestIds[5], ...priorOrder(requestIds).filter((id) => id !== requestIds[5]).slice(0, 2)]);
        const health = (await call(app, '/healthz', {})).json as Health;
        expect(health.status).toBe('degraded');
        expect(health.model.loaded).toBe(loaded);
        expect(loaded ? health.fallbacks.last?.error : health.model.error).toMatch(error);
        expect(health.fallbacks.last?.reason).toBe('model_error');
        expect(health.fallbacks.total.model_error).toBe(2);
        const models = await call(app, '/v1/model', {});
        expect(models.res.status).toBe(200);
      } finally {
        logged.mockRestore();
      }
    });
  }

  it("start-up preload (worker/index.ts): a model that does not load is logged, not thrown; the others are ready and serve", async () => {
    const broken = { ...shipped.manifest as Record<string, unknown>, model: { ...(shipped.manifest as { model: Record<string, unknown> }).model, id: 'broken-bytes' } };
    const registry = new ModelRegistry([{ manifest: broken, bytes: garbage }, shipped]);
    const logged: string[] = [];
    await registry.preload((message) => logged.push(message));
    expect(logged).toEqual([expect.stringMatching(/^model broken-bytes: not loaded at start-up/)]);
    expect(registry.get('broken-bytes')!.loaded).toBe(false);
    expect(registry.get('commerce-mtl')!.loaded).toBe(true);
    const app = createApp(() => registry);
    const served = await call(app, '/v1/rank', { DEFAULT_MODEL: 'commerce-mtl' }, fixture.request);
    expect(served.json.fallback).toBeNull();
    // the one that failed is retried by the first request that needs it, and falls back
    const logs = quietly();
    try {
      const fallback = await call(app, '/v1/rank', { DEFAULT_MODEL: 'broken-bytes' }, fixture.request);
      expect(fallback.json.fallback).toBe('model_error');
    } finally {
      logs.mockRestore();
    }
  });

  it('a model fault with no records to read (anonymous slate of unknown items): the request order', async () => {
    const { app } = appOver([{ manifest: shipped.manifest, bytes: garbage }]);
    const logged = quietly();
    try {
      const { json } = await call(app, '/v1/rank', {}, { items: [{ id: 'nope-1' }, { id: 'nope-2' }, { id: 'nope-3' }] });
      expect(json.fallback).toBe('model_error');
      expect(json.fallback_order).toBe('request');
      expect(json.items.map((i: { id: string }) => i.id)).toEqual(['nope-1', 'nope-2', 'nope-3']);
    } finally {
      logged.mockRestore();
    }
  });

  it('no model and KV down together: kv_error in the request order', async () => {
    const { app } = appOver([{ manifest: { bad: true }, bytes: shipped.bytes }]);
    const { kv } = faultyKv({ bulk: { kind: 'throw' } });
    const logged = quietly();
    try {
      const { res, json } = await call(app, '/v1/rank', { FEATURES: kv }, fixture.request);
      expect(res.status).toBe(200);
      expect(json.fallback).toBe('kv_error');
      expect(json.fallback_order).toBe('request');
      expect(json.model.version).toBe('unavailable');
    } finally {
      logged.mockRestore();
    }
  });

  it('a healthy app stays "ok" with every fallback counter at zero', async () => {
    const { app } = appOver(bundledModels);
    const { json } = await call(app, '/v1/rank', {}, fixture.request);
    expect(json.fallback).toBeNull();
    const health = (await call(app, '/healthz', {})).json as Health;
    expect(health.status).toBe('ok');
    expect(health.fallbacks.total).toEqual({ kv_error: 0, kv_timeout: 0, model_error: 0 });
    expect(health.fallbacks.served).toBe(1);
  });

  it('wrangler.toml serves commerce-mtl by default, and /healthz flags a DEFAULT_MODEL that is not loaded', async () => {
    expect(env.DEFAULT_MODEL).toBe('commerce-mtl');
    const health = (await call(shippedApp, '/healthz', { DEFAULT_MODEL: 'ghost-model' })).json as Health;
    expect(health.status).toBe('degraded');
    expect(health.model.error).toMatch(/DEFAULT_MODEL 'ghost-model' is not loaded; serving 'commerce-mtl'/);
  });
});
