// Objectives, business rules, experiments and exposure logging through the worker's own /v1/rank
// route inside workerd: the Hono app over the bundled models, with per-test bindings (EXPERIMENTS,
// EXPOSURE_SINK, a KV wrapper for config:experiments) and an ExecutionContext whose waitUntil
// promises the test awaits - so the background exposure writes are complete before they are read.
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { mergeExposureParts, type ExposureRow } from '../../model/data/exposure-row.ts';
import { createApp } from '../../worker/app.ts';
import { exposureCounters } from '../../worker/exposure/sink.ts';
import { bundledModels } from '../../worker/model/bundled-models.ts';
import { ModelRegistry } from '../../worker/model/registry.ts';
import { fixtureAndModel, type ErrorResponseBody } from './helpers.ts';

const fixture = inject('rankFixture');
const registry = new ModelRegistry(bundledModels);
const app = createApp(() => registry);

interface Item {
  id: string;
  score: number;
  p_ctr: number | null;
  p_cvr: number | null;
  arm?: string | null;
  features?: Record<string, number>;
  explain?: { objective: number; multiplier: number; price: number | null; rank_before_rules: number; moves: Array<{ rule: string; from: number; to: number; factor?: number }> };
}
interface Body {
  request_id: string;
  arm: string;
  model: { id: string; version: string };
  items: Item[];
  fallback: string | null;
  explain?: { arm_kind: string; removed: Array<{ id: string; rule: string; detail: string }>; objective: unknown };
}

/** Calls the app with extra bindings and an ExecutionContext; resolves once its waitUntil work is done too. */
async function call(body: unknown, options: { bindings?: Record<string, unknown>; headers?: Record<string, string> } = {}): Promise<{ res: Response; json: any }> {
  const tasks: Promise<unknown>[] = [];
  const ctx = { waitUntil: (p: Promise<unknown>) => void tasks.push(p), passThroughOnException: () => undefined, props: {} } as unknown as ExecutionContext;
  const res = await app.request(
    'http://worker.test/v1/rank',
    { method: 'POST', headers: { 'content-type': 'application/json', ...options.headers }, body: JSON.stringify(body) },
    { ...env, ...options.bindings },
    ctx,
  );
  const json = await res.json();
  await Promise.all(tasks);
  return { res, json };
}

const storedItem = new Map(fixture.kv.filter((p) => p.key.includes(':i:')).map((p) => [p.key.split(':i:')[1]!, JSON.parse(p.value) as Record<string, unknown>]));
const ids = fixture.request.items.map((i) => i.id);

let requestCounter = 0;
const freshId = (prefix: string) => `${prefix}-${Date.now()}-${requestCounter++}`;

beforeAll(fixtureAndModel(fixture.kv, registry), 120_000);

describe('business rules through /v1/rank', () => {
  it('filter (stored field, id list) -> boost -> order -> diversity -> pin -> k, explained per item', async () => {
    const plain = (await call(fixture.request)).json as Body;
    const modelOrder = plain.items.map((i) => i.id);
    const [top, second] = modelOrder;
    // boosted 1000x, the model's sixth item leads (no score ratio within a slate's top six comes near 1000)
    const boosted = modelOrder[5]!;
    const { res, json } = await call({
      ...fixture.request,
      k: 10,
      explain: true,
      rules: {
        filter: [{ ids: [second!] }, { field: 'category', op: 'eq', value: '__none__' }],
        boost: [{ ids: [boosted], factor: 1000 }],
        diversity: { field: 'category', max: 1, top_k: 5 },
        pin: [{ id: top!, position: 3 }],
      },
    });
    expect(res.status).toBe(200);
    const body = json as Body;
    const served = body.items.map((i) => i.id);
    expect(served).toHaveLength(10);
    expect(served).not.toContain(second);
    expect(body.explain!.removed).toEqual([{ id: second, rule: 'filter', detail: `ids (1)` }]);
    expect(served[0]).toBe(boosted);
    expect(body.items[0]!.explain!.moves[0]).toEqual({ rule: 'boost', factor: 1000, from: 5, to: 1 }); // 5th once the 2nd is filtered
    expect(body.items[0]!.score).toBeCloseTo(body.items[0]!.explain!.objective * 1000, 9);
    // the top item is pinned at 3
    expect(served[2]).toBe(top);
    expect(body.items[2]!.explain!.moves.at(-1)).toMatchObject({ rule: 'pin', to: 3 });
    // at most one item per category in the top 5, pinned item aside
    const cats = served.slice(0, 5).filter((id) => id !== top).map((id) => storedItem.get(id)!.category);
    expect(new Set(cats).size).toBe(cats.length);
    // score parts: objective = p_ctr x p_cvr x price (the manifest's expected revenue)
    for (const item of body.items) {
      expect(item.explain!.objective).toBeCloseTo(item.p_ctr! * item.p_cvr! * item.explain!.price!, 9);
      expect(item.score).toBeCloseTo(item.explain!.objective * item.explain!.multiplier, 9);
      expect(item.explain!.rank_before_rules).toBe(modelOrder.indexOf(item.id) + 1);
    }
  });

  it('dedupe by an inline field keeps the best-ranked item of each group', async () => {
    const plain = (await call(fixture.request)).json as Body;
    const order = plain.items.map((i) => i.id);
    // group the first three served items together: only the first survives
    const group = new Set(order.slice(0, 3));
    const items = fixture.request.items.map((i) => (group.has(i.id) ? { ...i, variant_of: 'p1' } : i));
    const body = (await call({ ...fixture.request, items, rules: { dedupe: { field: 'variant_of' } } })).json as Body;
    const served = body.items.map((i) => i.id);
    expect(served[0]).toBe(order[0]);
    expect(served).not.toContain(order[1]);
    expect(served).not.toContain(order[2]);
    expect(served).toHaveLength(order.length - 2);
  });

  it('rejects bad rules with a 400 naming the field (zod and the fast path alike)', async () => {
    const bad = async (rules: unknown, path: string, message: RegExp) => {
      const { res, json } = await call({ ...fixture.request, rules });
      expect(res.status).toBe(400);
      expect((json as ErrorResponseBody).error.path).toBe(path);
      expect((json as ErrorResponseBody).error.message).toMatch(message);
    };
    await bad({ pin: [{ id: 'not-in-the-slate', position: 1 }] }, 'rules.pin[0].id', /not among the items/);
    await bad({ boost: [{ ids: [ids[0]], factor: -2 }] }, 'rules.boost[0].factor', /must be > 0/);
    await bad({ filter: [{ field: 'price', op: 'lt', value: 'x' }] }, 'rules.filter[0].value', /must be a number/);
    await bad({ diversity: { field: 'category', max: 1, top_k: 501 } }, 'rules.diversity.top_k', /500/);
  });
});

const experiments = (config: object) => ({ EXPERIMENTS: JSON.stringify(config) });
const abConfig = {
  experiment: 'wt-1',
  control: 'popular',
  arms: [
    { name: 'popular', kind: 'popularity', share: 50 },
    { name: 'model', kind: 'model', share: 50 },
    { name: 'ctr-only', kind: 'model', share: 0, objective: { kind: 'ctr' } },
    { name: 'mix', kind: 'interleave', share: 0, arms: ['model', 'popular'] },
  ],
};

describe('experiments through /v1/rank', () => {
  it('assigns a user to the same arm on every request, and users to both arms', async () => {
    const seen = new Map<string, string>();
    for (let u = 0; u < 24; u++) {
      const user = `user-${u}`;
      const first = (await call({ ...fixture.request, user_id: user, k: 3 }, { bindings: experiments(abConfig) })).json as Body;
      const again = (await call({ ...fixture.request, user_id: user, k: 3 }, { bindings: experiments(abConfig) })).json as Body;
      expect(again.arm).toBe(first.arm);
      seen.set(user, first.arm);
    }
    expect(new Set(seen.values())).toEqual(new Set(['popular', 'model']));
  });

  it('a popularity arm orders by the stored click_coec and runs no model', async () => {
    const body = (await call(fixture.request, { bindings: experiments(abConfig), headers: { 'x-experiment-arm': 'popular', 'x-experiment-token': 'test-override-token' } })).json as Body;
    expect(body.arm).toBe('popular');
    expect(body.model).toEqual({ id: 'popularity', version: 'click_coec' });
    const expected = [...ids].sort((a, b) => (storedItem.get(b)!.click_coec as number) - (storedItem.get(a)!.click_coec as number) || ids.indexOf(a) - ids.indexOf(b));
    expect(body.items.map((i) => i.id)).toEqual(expected);
    expect(body.items.every((i) => i.p_ctr === null && i.p_cvr === null)).toBe(true);
  });

  it("a model arm with its own objective scores by it ('ctr-only': the score is p_ctr)", async () => {
    const body = (await call(fixture.request, { bindings: experiments(abConfig), headers: { 'x-experiment-arm': 'ctr-only', 'x-experiment-token': 'test-override-token' } })).json as Body;
    expect(body.arm).toBe('ctr-only');
    for (const item of body.items) expect(item.score).toBeCloseTo(item.p_ctr!, 6);
  });

  it('anonymous requests: assigned by x-client-id; with neither id, the default arm', async () => {
    const anonymous = { items: fixture.request.items, context: fixture.request.context };
    const arms = new Set<string>();
    for (let i = 0; i < 16; i++) {
      const a = (await call(anonymous, { bindings: experiments(abConfig), headers: { 'x-client-id': `client-${i}` } })).json as Body;
      const b = (await call(anonymous, { bindings: experiments(abConfig), headers: { 'x-client-id': `client-${i}` } })).json as Body;
      expect(b.arm).toBe(a.arm);
      arms.add(a.arm);
    }
    expect(arms.size).toBe(2);
    for (let i = 0; i < 3; i++) expect(((await call(anonymous, { bindings: experiments({ ...abConfig, default_arm: 'model' }) })).json as Body).arm).toBe('model');
  });

  it('the override header needs the secret token: 401 without it or with a wrong one, 403 when no secret is configured; 400 for an unknown arm', async () => {
    const override = (headers: Record<string, string>, bindings: Record<string, unknown> = {}) => call(fixture.request, { bindings: { ...experiments(abConfig), ...bindings }, headers });
    let r = await override({ 'x-experiment-arm': 'model' });
    expect(r.res.status).toBe(401);
    expect((r.json as ErrorResponseBody).error.code).toBe('unauthorized');
    expect(r.res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    r = await override({ 'x-experiment-arm': 'model', 'x-experiment-token': 'test-override-tokeN' });
    expect(r.res.status).toBe(401);
    expect((r.json as ErrorResponseBody).error.path).toBe('x-experiment-token');
    // no secret configured: the header cannot be honoured either
    r = await override({ 'x-experiment-arm': 'model', 'x-experiment-token': 'test-override-token' }, { EXPERIMENT_OVERRIDE_TOKEN: undefined, ADMIN_TOKEN: undefined });
    expect(r.res.status).toBe(403);
    expect((r.json as ErrorResponseBody).error.message).toMatch(/EXPERIMENT_OVERRIDE_TOKEN is not set/);
    // the token as a bearer token, and the admin secret, count too
    r = await override({ 'x-experiment-arm': 'popular', authorization: 'Bearer test-override-token' });
    expect((r.json as Body).arm).toBe('popular');
    r = await override({ 'x-experiment-arm': 'popular', authorization: 'Bearer test-admin-token' });
    expect((r.json as Body).arm).toBe('popular');
    r = await override({ 'x-experiment-arm': 'ghost', 'x-experiment-token': 'test-override-token' });
    expect(r.res.status).toBe(400);
    expect((r.json as ErrorResponseBody).error.path).toBe('x-experiment-arm');
    for (const arm of ['model', 'popular', 'mix']) {
      r = await override({ 'x-experiment-arm': arm, 'x-experiment-token': 'test-override-token' });
      expect(r.res.status).toBe(200);
      expect((r.json as Body).arm).toBe(arm);
    }
  });

  it('interleaving: every item credited to one of the two arms, both present, in team-draft turns, no duplicates', async () => {
    const body = (await call({ ...fixture.request, request_id: 'interleave-1' }, { bindings: experiments(abConfig), headers: { 'x-experiment-arm': 'mix', 'x-experiment-token': 'test-override-token' } })).json as Body;
    expect(body.arm).toBe('mix');
    const served = body.items.map((i) => i.id);
    expect(new Set(served).size).toBe(served.length);
    expect(new Set(served)).toEqual(new Set(ids));
    const teams = body.items.map((i) => i.arm);
    expect(new Set(teams)).toEqual(new Set(['model', 'popular']));
    let model = 0;
    let popular = 0;
    for (const t of teams) {
      if (t === 'model') model++;
      else popular++;
      expect(Math.abs(model - popular)).toBeLessThanOrEqual(1);
    }
    // the model's items are the model arm's best remaining ones: its first pick is its top item
    const modelOrder = ((await call(fixture.request, { bindings: experiments(abConfig), headers: { 'x-experiment-arm': 'model', 'x-experiment-token': 'test-override-token' } })).json as Body).items.map((i) => i.id);
    const firstModelPick = body.items.find((i) => i.arm === 'model')!.id;
    expect([modelOrder[0], modelOrder[1]]).toContain(firstModelPick);
    // the same request id gets the same slate
    const again = (await call({ ...fixture.request, request_id: 'interleave-1' }, { bindings: experiments(abConfig), headers: { 'x-experiment-arm': 'mix', 'x-experiment-token': 'test-override-token' } })).json as Body;
    expect(again.items.map((i) => [i.id, i.arm])).toEqual(body.items.map((i) => [i.id, i.arm]));
  });

  it('an invalid config never fails a request: the default arm serves and /healthz names the bad field', async () => {
    const bad = { EXPERIMENTS: JSON.stringify({ ...abConfig, arms: [{ ...abConfig.arms[0], share: 10 }, abConfig.arms[1]] }) };
    const { res, json } = await call(fixture.request, { bindings: bad });
    expect(res.status).toBe(200);
    expect((json as Body).arm).toBe('default');
    const health = (await (await app.request('http://worker.test/healthz', {}, { ...env, ...bad })).json()) as { status: string; experiments: { error?: string } };
    expect(health.status).toBe('degraded');
    expect(health.experiments.error).toMatch(/^EXPERIMENTS: arms: shares must add up to 100, they add up to 60/);
  });

  it('the KV key config:experiments wins over the EXPERIMENTS var', async () => {
    const kvConfig = { experiment: 'from-kv', arms: [{ name: 'kv-arm', kind: 'model', share: 100 }] };
    const kv = {
      get: (key: string | string[], type?: unknown) =>
        key === 'config:experiments' ? Promise.resolve(JSON.stringify(kvConfig)) : (env.FEATURES.get as (k: unknown, t: unknown) => Promise<unknown>)(key, type),
    } as unknown as KVNamespace;
    const body = (await call(fixture.request, { bindings: { ...experiments(abConfig), FEATURES: kv } })).json as Body;
    expect(body.arm).toBe('kv-arm');
  });
});

/** Exposure rows in the local sink (log:* keys of FEATURES) for a request id. */
async function loggedRows(requestId: string): Promise<ExposureRow[]> {
  const rows: ExposureRow[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.FEATURES.list({ prefix: 'log:', ...(cursor ? { cursor } : {}) });
    for (const key of page.keys) {
      const row = JSON.parse((await env.FEATURES.get(key.name, 'text'))!) as ExposureRow;
      if (row.request_id === requestId) rows.push(row);
    }
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return rows;
}

describe('exposure logging', () => {
  it('writes one row per response through the local KV sink: hashed user, arm, model, positions, scores and the model inputs', async () => {
    const requestId = freshId('exposure');
    const { json } = await call({ ...fixture.request, request_id: requestId, k: 7, explain: true }, { bindings: { ...experiments(abConfig), EXPOSURE_SINK: 'kv' } });
    const body = json as Body;
    const rows = await loggedRows(requestId);
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row.unit.kind).toBe('user');
    expect(row.unit.hash).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.stringify(row)).not.toContain(fixture.request.user_id);
    expect(row.arm).toBe(body.arm);
    expect(row.experiment).toBe('wt-1');
    expect(row.candidates).toBe(ids.length);
    expect(row.k).toBe(7);
    expect(row.items.map((i) => [i.id, i.position, i.score])).toEqual(body.items.map((i, j) => [i.id, j + 1, i.score]));
    // the features are what the model saw: the same values explain reports, input by input
    expect(row.features_model).toEqual(fixture.model);
    expect(row.inputs!.map((i) => i.name)).toEqual(['cat', 'num']);
    for (const [j, item] of row.items.entries()) {
      const explained = body.items[j]!.features!;
      for (const input of row.inputs!) input.features.forEach((name, c) => expect(item.x![input.name]![c]).toBe(explained[name]));
    }
  });

  it('logs popularity and interleaved slates too (with each item credited to its arm)', async () => {
    const requestId = freshId('exposure-mix');
    const { json } = await call({ ...fixture.request, request_id: requestId }, { bindings: { ...experiments(abConfig), EXPOSURE_SINK: 'kv' }, headers: { 'x-experiment-arm': 'mix', 'x-experiment-token': 'test-override-token' } });
    const [row] = await loggedRows(requestId);
    expect(row!.arm).toBe('mix');
    expect(row!.override).toBe(true);
    expect(row!.sides).toEqual(['model', 'popular']);
    expect(row!.items.map((i) => i.arm)).toEqual((json as Body).items.map((i) => i.arm));
    expect(row!.items.every((i) => i.x !== undefined)).toBe(true);
  });

  it('a failing sink never fails the request: the ranking is served and the failure counted', async () => {
    const failing = { send: () => Promise.reject(new Error('queue is down')), sendBatch: () => Promise.reject(new Error('queue is down')) } as unknown as Queue;
    const before = exposureCounters.failed;
    const { res, json } = await call(fixture.request, { bindings: { EXPOSURE_SINK: 'queue', EXPOSURES: failing } });
    expect(res.status).toBe(200);
    expect((json as Body).items).toHaveLength(ids.length);
    expect((json as Body).fallback).toBeNull();
    expect(exposureCounters.failed).toBe(before + 1);
  });

  it('the queue sink sends whole rows, and splits a 500-item slate into parts that join back', async () => {
    const messages: unknown[] = [];
    const queue = {
      send: (body: unknown) => void messages.push(body),
      sendBatch: (batch: Array<{ body: unknown }>) => void messages.push(...batch.map((m) => m.body)),
    } as unknown as Queue;
    await call({ ...fixture.request, request_id: 'queue-small' }, { bindings: { EXPOSURE_SINK: 'queue', EXPOSURES: queue } });
    expect(messages).toHaveLength(1);
    expect((messages[0] as ExposureRow).part).toBeUndefined();
    messages.length = 0;
    const big = Array.from({ length: 500 }, (_, i) => ({ id: `item-${i}`, price: 10 + i }));
    await call({ user_id: fixture.request.user_id, items: big, request_id: 'queue-big' }, { bindings: { EXPOSURE_SINK: 'queue', EXPOSURES: queue } });
    expect(messages.length).toBeGreaterThan(1);
    for (const m of messages) expect(JSON.stringify(m).length).toBeLessThanOrEqual(128_000);
    const { rows, incomplete } = mergeExposureParts(messages as ExposureRow[]);
    expect(incomplete).toBe(0);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.items.map((i) => i.position)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
  });
});
