// Serving options around the rank path: the bench-only routes (off unless BENCH_ROUTES is "on")
// and the ORT graph optimisation level (ORT_GRAPH_OPTIMIZATION).
import { env, exports } from 'cloudflare:workers';
import { describe, expect, inject, it } from 'vitest';
import type { SlateRecords } from '../../model/features/assemble.ts';
import { contextRecord, type RawRecord } from '../../model/features/records.ts';
import { createApp } from '../../worker/app.ts';
import { bundledModels } from '../../worker/model/bundled-models.ts';
import { LoadedModel } from '../../worker/model/loaded-model.ts';
import { ModelRegistry } from '../../worker/model/registry.ts';
import { probe } from './kv-probe.ts';
import { putAll } from './helpers.ts';

const fixture = inject('rankFixture');

describe('bench routes', () => {
  it('do not exist unless BENCH_ROUTES is "on"', async () => {
    for (const [method, path] of [['GET', '/bench/noop'], ['POST', '/bench/cache/flush'], ['GET', '/bench/stats'], ['POST', '/bench/model']] as const) {
      const res = await exports.default.fetch(`http://worker.test${path}`, { method });
      expect(res.status).toBe(404);
    }
  });

  it('answer when BENCH_ROUTES is "on": a no-op, cache stats and a flush', async () => {
    await putAll(fixture.kv);
    const registry = new ModelRegistry(bundledModels);
    const app = createApp(() => registry);
    const kv = probe();
    const bindings = { ...env, FEATURES: kv.kv, BENCH_ROUTES: 'on' };
    expect(await (await app.request('http://worker.test/bench/noop', {}, bindings)).json()).toEqual({});
    const ranked = await app.request(
      'http://worker.test/v1/rank',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fixture.request) },
      bindings,
    );
    expect(ranked.status).toBe(200);
    const stats = (await (await app.request('http://worker.test/bench/stats', {}, bindings)).json()) as { cache: { entries: number } };
    expect(stats.cache.entries).toBe(fixture.request.items.length + 1);
    const flushed = (await (await app.request('http://worker.test/bench/cache/flush', { method: 'POST' }, bindings)).json()) as { dropped: number };
    expect(flushed.dropped).toBe(fixture.request.items.length + 1);
  }, 60_000);
});

describe('ORT graph optimisation level (ORT_GRAPH_OPTIMIZATION)', () => {
  it("scores the shipped model at 'all' exactly as at 'basic'", async () => {
    const [bundled] = bundledModels;
    const basic = new LoadedModel(bundled!.manifest, bundled!.bytes, 'basic');
    const all = new LoadedModel(bundled!.manifest, bundled!.bytes, 'all');
    const stored = new Map(fixture.kv.map((p) => [p.key, JSON.parse(p.value) as RawRecord]));
    const slate: SlateRecords = {
      userId: fixture.request.user_id,
      user: stored.get(`fs:fs-test-fixture:u:${fixture.request.user_id}`),
      context: contextRecord(fixture.request.context, new Date('2026-03-02T19:15:00Z')),
      items: fixture.request.items.map(({ id, ...inline }) => ({ id, stored: stored.get(`fs:fs-test-fixture:i:${id}`), inline: Object.keys(inline).length ? inline : undefined })),
    };
    const a = await basic.score(slate);
    const b = await all.score(slate);
    expect(Array.from(b.pCtr)).toEqual(Array.from(a.pCtr));
    expect(Array.from(b.pCvr)).toEqual(Array.from(a.pCvr));
  }, 60_000);
});
