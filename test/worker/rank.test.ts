import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ACTIVE_KEY } from '../../model/features/kv-layout.ts';
import { putAll, rank, type RankResponseBody } from './helpers.ts';

const fixture = inject('rankFixture');

describe('POST /v1/rank', () => {
  beforeAll(async () => {
    await putAll(fixture.kv);
  });

  it('returns every requested id exactly once, ordered by score, with probabilities', async () => {
    const res = await rank(fixture.request);
    expect(res.status).toBe(200);
    const body = (await res.json()) as RankResponseBody;
    expect(body.fallback).toBeNull();
    expect(body.feature_set).toBe('fs-test-fixture');
    expect(body.request_id).toBe('fixture-1');
    expect(body.model).toEqual(fixture.model);
    const ids = body.items.map((i) => i.id);
    expect(ids).toHaveLength(fixture.request.items.length);
    expect(new Set(ids)).toEqual(new Set(fixture.request.items.map((i) => i.id)));
    for (let i = 1; i < body.items.length; i++) expect(body.items[i - 1]!.score).toBeGreaterThanOrEqual(body.items[i]!.score);
    for (const item of body.items) {
      expect(item.p_ctr).toBeGreaterThanOrEqual(0);
      expect(item.p_ctr).toBeLessThanOrEqual(1);
      expect(item.p_cvr).toBeGreaterThanOrEqual(0);
      expect(item.p_cvr).toBeLessThanOrEqual(1);
    }
    // The slate really is re-ordered, not echoed.
    expect(ids).not.toEqual(fixture.request.items.map((i) => i.id));
    expect(res.headers.get('server-timing')).toMatch(/kv;dur=[\d.]+.*features;dur=[\d.]+.*model;dur=[\d.]+.*total;dur=[\d.]+/);
  });

  it('scores by the manifest objective: expected revenue = p_ctr x p_cvr x price', async () => {
    const body = (await (await rank(fixture.request)).json()) as RankResponseBody;
    const prices = new Map(fixture.request.items.map((i) => [i.id, i.price]));
    const stored = new Map(fixture.kv.filter((p) => p.key.includes(':i:')).map((p) => [p.key.split(':i:')[1]!, JSON.parse(p.value).price as number]));
    for (const item of body.items) {
      const price = prices.get(item.id) ?? stored.get(item.id)!;
      expect(item.score).toBeCloseTo(item.p_ctr * item.p_cvr * price, 9);
    }
  });

  it('returns the top k', async () => {
    const full = (await (await rank(fixture.request)).json()) as RankResponseBody;
    const top = (await (await rank({ ...fixture.request, k: 10 })).json()) as RankResponseBody;
    expect(top.items.map((i) => i.id)).toEqual(full.items.slice(0, 10).map((i) => i.id));
  });

  it('explains each item with the feature values the model saw', async () => {
    const body = (await (await rank({ ...fixture.request, k: 3, explain: true })).json()) as RankResponseBody;
    for (const item of body.items) {
      expect(item.features).toBeDefined();
      expect(Object.keys(item.features!)).toContain('item_price');
      for (const v of Object.values(item.features!)) expect(Number.isFinite(v)).toBe(true);
    }
  });

  it('scores an unknown user and unknown items with defaults instead of rejecting them', async () => {
    const res = await rank({
      user_id: 'never-seen-user',
      context: { device: 'desktop', page: 'home', time: '2026-03-02T10:00:00Z' },
      items: [{ id: 'unknown-1' }, { id: 'unknown-2', price: 50 }, { id: fixture.request.items[0]!.id }],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as RankResponseBody;
    expect(body.fallback).toBeNull();
    expect(body.items.map((i) => i.id).sort()).toEqual(['unknown-1', 'unknown-2', fixture.request.items[0]!.id].sort());
    for (const item of body.items) {
      expect(item.p_ctr).toBeGreaterThan(0);
      expect(item.p_ctr).toBeLessThan(1);
    }
  });

  it('serves an anonymous request (no user_id, no context)', async () => {
    const res = await rank({ items: [{ id: 'a' }, { id: 'b' }] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as RankResponseBody;
    expect(body.items).toHaveLength(2);
    expect(body.request_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('scores with defaults when KV holds no feature set yet', async () => {
    await env.FEATURES.delete(ACTIVE_KEY);
    try {
      const res = await rank(fixture.request);
      expect(res.status).toBe(200);
      const body = (await res.json()) as RankResponseBody;
      expect(body.feature_set).toBeNull();
      expect(body.items).toHaveLength(fixture.request.items.length);
    } finally {
      await putAll(fixture.kv.filter((p) => p.key === ACTIVE_KEY));
    }
  });
});

describe('GET /healthz and /v1/model', () => {
  it('reports the model and the feature set', async () => {
    await putAll(fixture.kv);
    const { exports } = await import('cloudflare:workers');
    const health = (await (await exports.default.fetch('http://worker.test/healthz')).json()) as Record<string, any>;
    expect(health.status).toBe('ok');
    expect(health.model.loaded).toBe(true);
    expect(health.feature_set.version).toBe('fs-test-fixture');
    const model = (await (await exports.default.fetch('http://worker.test/v1/model')).json()) as Record<string, any>;
    expect(model.default).toBe(fixture.model.id);
    expect(model.models[0].inputs.map((i: { name: string }) => i.name)).toEqual(['cat', 'num']);
    expect(model.models[0].outputs).toEqual({ p_ctr: { name: 'p_ctr' }, p_cvr: { name: 'p_cvr' } });
  });
});
