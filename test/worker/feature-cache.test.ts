// The per-isolate record cache in front of KV (worker/features/store.ts + record-cache.ts), inside
// workerd against Miniflare's KV. KV is wrapped (kv-probe.ts) to count the calls that reach it and,
// per test, to answer fs:active with the test's own pointer, so these tests never move the shared
// fs:active the other files rely on. The clock is injected: no test waits, none asserts a duration.
import { env } from 'cloudflare:workers';
import { ACTIVE_KEY } from '../../model/features/kv-layout.ts';
import { FEATURE_SET_SCHEMA } from '../../model/features/records.ts';
import { beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createApp } from '../../worker/app.ts';
import { FeatureStore } from '../../worker/features/store.ts';
import { DEFAULT_RECORD_CACHE, type RecordCacheOptions } from '../../worker/features/record-cache.ts';
import { bundledModels } from '../../worker/model/bundled-models.ts';
import { ModelRegistry } from '../../worker/model/registry.ts';
import { fixtureAndModel, putAll, type RankResponseBody } from './helpers.ts';
import { probe, type KvProbe } from './kv-probe.ts';

const fixture = inject('rankFixture');

let versions = 0;
/** A feature-set version of its own for each test, so cached and stored values never collide. */
function freshVersion(): string {
  return `fs-cache-test-${Date.now()}-${versions++}`;
}

const key = (version: string, kind: 'u' | 'i', id: string) => `fs:${version}:${kind}:${id}`;

function storeWith(p: KvProbe, cache: Partial<RecordCacheOptions> = {}, clock = { now: 1_000_000 }) {
  const store = new FeatureStore(p.kv, { activeTtlMs: 0, cache: { ...DEFAULT_RECORD_CACHE, ...cache }, clock: () => clock.now, log: () => undefined });
  return { store, clock };
}

describe('feature record cache', () => {
  it('serves hits from memory: the second read of the same keys does not reach KV', async () => {
    const version = freshVersion();
    const p = probe({ version });
    await env.FEATURES.put(key(version, 'i', 'a'), JSON.stringify({ price: 1 }));
    await env.FEATURES.put(key(version, 'u', 'x'), JSON.stringify({ segment: 's' }));
    const { store } = storeWith(p);
    await store.activeFeatureSet();
    const keys = [key(version, 'i', 'a'), key(version, 'u', 'x')];
    const first = await store.getRecords(keys);
    expect(p.calls.bulk).toBe(1);
    const second = await store.getRecords(keys);
    expect(p.calls.bulk).toBe(1);
    expect(second).toEqual([{ price: 1 }, { segment: 's' }]);
    // kept decoded: the very same objects, not parsed again
    expect(second[0]).toBe(first[0]);
  });

  it('reads a slate by ids: misses from KV under their keys, then hits by id, the same entries getRecords sees', async () => {
    const version = freshVersion();
    const p = probe({ version });
    await env.FEATURES.put(key(version, 'i', 'a'), JSON.stringify({ price: 1 }));
    await env.FEATURES.put(key(version, 'i', 'b:c'), JSON.stringify({ price: 2 }));
    await env.FEATURES.put(key(version, 'u', 'x'), JSON.stringify({ segment: 's' }));
    const { store } = storeWith(p);
    await store.activeFeatureSet();
    // a duplicate id, an id with a colon, an unknown id and the user
    const first = await store.getSlateRecords(version, ['a', 'b:c', 'a', 'nope'], 'x');
    expect(first).toEqual([{ price: 1 }, { price: 2 }, { price: 1 }, null, { segment: 's' }]);
    expect(p.calls.bulk).toBe(1);
    expect(p.calls.keys).toBe(4);
    const again = await store.getSlateRecords(version, ['nope', 'b:c', 'a'], undefined);
    expect(again).toEqual([null, { price: 2 }, { price: 1 }]);
    expect(p.calls.bulk).toBe(1);
    expect(again[2]).toBe(first[0]);
    // one cache: the same entries by full key, and an item id never finds the user's record
    const byKey = await store.getRecords([key(version, 'i', 'a'), key(version, 'u', 'x'), key(version, 'i', 'x')]);
    expect(byKey[0]).toBe(first[0]);
    expect(byKey[1]).toBe(first[4]);
    expect(byKey[2]).toBeNull();
    expect(p.calls.bulk).toBe(2);
  });

  it('reads a slate of another version than the cached one from KV, without caching it', async () => {
    const version = freshVersion();
    const other = freshVersion();
    const p = probe({ version });
    await env.FEATURES.put(key(version, 'i', 'a'), JSON.stringify({ price: 1 }));
    await env.FEATURES.put(key(other, 'i', 'a'), JSON.stringify({ price: 9 }));
    const { store } = storeWith(p);
    await store.activeFeatureSet();
    expect(await store.getSlateRecords(version, ['a'], undefined)).toEqual([{ price: 1 }]);
    expect(await store.getSlateRecords(other, ['a'], undefined)).toEqual([{ price: 9 }]);
    expect(await store.getSlateRecords(other, ['a'], undefined)).toEqual([{ price: 9 }]);
    expect(p.calls.bulk).toBe(3);
    expect(await store.getSlateRecords(version, ['a'], undefined)).toEqual([{ price: 1 }]);
    expect(p.calls.bulk).toBe(3);
  });

  it('reads misses in bulk batches of at most 100 keys', async () => {
    const version = freshVersion();
    const p = probe({ version });
    const { store } = storeWith(p);
    await store.activeFeatureSet();
    const keys = Array.from({ length: 250 }, (_, i) => key(version, 'i', `m${i}`));
    const records = await store.getRecords(keys);
    expect(records).toHaveLength(250);
    expect(p.calls.bulk).toBe(3);
    expect(p.calls.keys).toBe(250);
  });

  it('reads KV again once the TTL (and the stale window) has passed', async () => {
    const version = freshVersion();
    const p = probe({ version });
    await env.FEATURES.put(key(version, 'i', 'a'), JSON.stringify({ price: 1 }));
    const { store, clock } = storeWith(p, { ttlMs: 1_000, staleMs: 0 });
    await store.activeFeatureSet(clock.now);
    await store.getRecords([key(version, 'i', 'a')]);
    clock.now += 999;
    await store.getRecords([key(version, 'i', 'a')]);
    expect(p.calls.bulk).toBe(1);
    await env.FEATURES.put(key(version, 'i', 'a'), JSON.stringify({ price: 2 }));
    clock.now += 1;
    expect(await store.getRecords([key(version, 'i', 'a')])).toEqual([{ price: 2 }]);
    expect(p.calls.bulk).toBe(2);
  });

  it('serves a stale value while one background refresh runs, then the fresh one', async () => {
    const version = freshVersion();
    const p = probe({ version });
    const k = key(version, 'i', 'a');
    await env.FEATURES.put(k, JSON.stringify({ price: 1 }));
    const { store, clock } = storeWith(p, { ttlMs: 1_000, staleMs: 60_000 });
    await store.activeFeatureSet(clock.now);
    await store.getRecords([k]);
    await env.FEATURES.put(k, JSON.stringify({ price: 2 }));
    clock.now += 5_000; // stale, within the stale window

    const background: Promise<unknown>[] = [];
    const waitUntil = (promise: Promise<unknown>) => void background.push(promise);
    expect(await store.getRecords([k], { waitUntil })).toEqual([{ price: 1 }]);
    expect(background).toHaveLength(1);
    // A second request before the refresh lands: stale again, and no second refresh (no stampede).
    expect(await store.getRecords([k], { waitUntil })).toEqual([{ price: 1 }]);
    expect(background).toHaveLength(1);
    expect(p.calls.bulk).toBe(2);

    await Promise.all(background);
    expect(await store.getRecords([k], { waitUntil })).toEqual([{ price: 2 }]);
    expect(p.calls.bulk).toBe(2);
    expect(background).toHaveLength(1);
    expect(store.counters.background_refreshes).toBe(1);
  });

  it('keeps serving the stale value when the background refresh fails, and retries later', async () => {
    const version = freshVersion();
    const p = probe({ version });
    const k = key(version, 'i', 'a');
    await env.FEATURES.put(k, JSON.stringify({ price: 1 }));
    const { store, clock } = storeWith(p, { ttlMs: 1_000, staleMs: 60_000 });
    await store.activeFeatureSet(clock.now);
    await store.getRecords([k]);
    clock.now += 5_000;
    p.failing = true;
    const background: Promise<unknown>[] = [];
    expect(await store.getRecords([k], { waitUntil: (w) => void background.push(w) })).toEqual([{ price: 1 }]);
    await Promise.all(background);
    expect(store.counters.refresh_failures).toBe(1);
    p.failing = false;
    expect(await store.getRecords([k], { waitUntil: (w) => void background.push(w) })).toEqual([{ price: 1 }]);
    expect(background).toHaveLength(2);
  });

  it('remembers missing keys for the shorter negative TTL', async () => {
    const version = freshVersion();
    const p = probe({ version });
    const k = key(version, 'i', 'not-there');
    const { store, clock } = storeWith(p, { ttlMs: 60_000, negativeTtlMs: 1_000, staleMs: 0 });
    await store.activeFeatureSet(clock.now);
    expect(await store.getRecords([k])).toEqual([null]);
    expect(await store.getRecords([k])).toEqual([null]);
    expect(p.calls.bulk).toBe(1);
    await env.FEATURES.put(k, JSON.stringify({ price: 3 }));
    clock.now += 1_000;
    expect(await store.getRecords([k])).toEqual([{ price: 3 }]);
    expect(p.calls.bulk).toBe(2);
  });

  it('treats a corrupt value as missing, counts it and caches it as missing', async () => {
    const version = freshVersion();
    const p = probe({ version });
    const k = key(version, 'i', 'bad');
    await env.FEATURES.put(k, '[1, 2');
    const { store } = storeWith(p);
    await store.activeFeatureSet();
    expect(await store.getRecords([k, k])).toEqual([null, null]);
    expect(await store.getRecords([k])).toEqual([null]);
    expect(p.calls.bulk).toBe(1);
    expect(store.counters.corrupt_values).toBeGreaterThanOrEqual(1);
  });

  it('holds its LRU bound: by entries, evicting the least recently used', async () => {
    const version = freshVersion();
    const p = probe({ version });
    const { store } = storeWith(p, { maxEntries: 5 });
    await store.activeFeatureSet();
    const keys = Array.from({ length: 12 }, (_, i) => key(version, 'i', `k${i}`));
    for (const k of keys.slice(0, 5)) await store.getRecords([k]);
    await store.getRecords([keys[0]!]); // touch the oldest: now the most recent
    for (const k of keys.slice(5)) {
      await store.getRecords([k]);
      expect(store.cache.size).toBeLessThanOrEqual(5);
      // four newer keys in, the touched key has outlived keys 1-4
      if (k === keys[8]) expect(store.cache.keys()).toEqual([keys[8], keys[7], keys[6], keys[5], keys[0]]);
    }
    expect(store.cache.keys()).toEqual([keys[11], keys[10], keys[9], keys[8], keys[7]]);
    expect(store.cache.stats.evictions).toBe(7);
    const before = p.calls.bulk;
    await store.getRecords([keys[11]!]);
    expect(p.calls.bulk).toBe(before);
  });

  it('holds its LRU bound: by approximate bytes', async () => {
    const version = freshVersion();
    const p = probe({ version });
    const value = JSON.stringify({ blob: 'x'.repeat(1_000) });
    const keys = Array.from({ length: 20 }, (_, i) => key(version, 'i', `b${i}`));
    await putAll(keys.map((k) => ({ key: k, value })));
    const maxBytes = 10 * 1024;
    const { store } = storeWith(p, { maxBytes });
    await store.activeFeatureSet();
    for (const k of keys) {
      await store.getRecords([k]);
      expect(store.cache.bytes).toBeLessThanOrEqual(maxBytes);
    }
    expect(store.cache.size).toBeGreaterThan(0);
    expect(store.cache.size).toBeLessThan(keys.length);
  });

  it('drops every entry when fs:active moves to a new version, and never caches the old one again', async () => {
    const v1 = freshVersion();
    const v2 = freshVersion();
    const p = probe({ version: v1 });
    await env.FEATURES.put(key(v1, 'i', 'a'), JSON.stringify({ price: 1 }));
    await env.FEATURES.put(key(v2, 'i', 'a'), JSON.stringify({ price: 2 }));
    const { store } = storeWith(p);
    await store.activeFeatureSet();
    await store.getRecords([key(v1, 'i', 'a')]);
    expect(store.cache.size).toBe(1);

    p.active = JSON.stringify({ version: v2, schema: FEATURE_SET_SCHEMA });
    expect((await store.activeFeatureSet())?.version).toBe(v2);
    expect(store.cache.size).toBe(0);
    expect(store.cache.stats.version_drops).toBe(1);

    // An in-flight request of the old version still gets its records, but they are not cached.
    expect(await store.getRecords([key(v1, 'i', 'a')])).toEqual([{ price: 1 }]);
    expect(store.cache.size).toBe(0);
    expect(await store.getRecords([key(v2, 'i', 'a')])).toEqual([{ price: 2 }]);
    expect(store.cache.keys()).toEqual([key(v2, 'i', 'a')]);
  });

  it('reads a known fs:active once more when it reads as absent, and only then serves without a feature set', async () => {
    const v1 = freshVersion();
    const p = probe({ version: v1 });
    const { store } = storeWith(p);
    expect((await store.activeFeatureSet())?.version).toBe(v1);
    expect(p.calls.single).toBe(1);

    // One absent answer (a write racing the read): the second read finds the pointer.
    const pointer = p.active;
    const get = p.kv.get.bind(p.kv);
    let absentOnce = true;
    p.kv.get = ((k: string, t: unknown) => {
      if (k === ACTIVE_KEY && absentOnce) {
        absentOnce = false;
        p.calls.single++;
        return Promise.resolve(null);
      }
      return (get as (k: string, t: unknown) => Promise<unknown>)(k, t);
    }) as KVNamespace['get'];
    expect((await store.activeFeatureSet())?.version).toBe(v1);
    expect(p.calls.single).toBe(3);
    expect(p.active).toBe(pointer);

    // Really gone: two absent reads, no feature set.
    p.active = null;
    expect(await store.activeFeatureSet()).toBeNull();
    expect(p.calls.single).toBe(5);
  });

  it('reads a key once for concurrent requests (single flight)', async () => {
    const version = freshVersion();
    const p = probe({ version });
    await env.FEATURES.put(key(version, 'i', 'a'), JSON.stringify({ price: 1 }));
    const { store } = storeWith(p);
    await store.activeFeatureSet();
    const keys = [key(version, 'i', 'a'), key(version, 'i', 'none')];
    const [x, y] = await Promise.all([store.getRecords(keys), store.getRecords(keys)]);
    expect(x).toEqual([{ price: 1 }, null]);
    expect(y).toEqual(x);
    expect(p.calls.bulk).toBe(1);
    expect(store.counters.joined_reads).toBe(2);
  });

  it('rejects when KV fails for a key it does not hold, serves what it holds', async () => {
    const version = freshVersion();
    const p = probe({ version });
    await env.FEATURES.put(key(version, 'i', 'a'), JSON.stringify({ price: 1 }));
    const { store } = storeWith(p);
    await store.activeFeatureSet();
    await store.getRecords([key(version, 'i', 'a')]);
    p.failing = true;
    expect(await store.getRecords([key(version, 'i', 'a')])).toEqual([{ price: 1 }]);
    await expect(store.getRecords([key(version, 'i', 'b')])).rejects.toThrow(/KV is down/);
  });

  it('caches nothing with a TTL of 0', async () => {
    const version = freshVersion();
    const p = probe({ version });
    const { store } = storeWith(p, { ttlMs: 0 });
    await store.activeFeatureSet();
    await store.getRecords([key(version, 'i', 'a')]);
    await store.getRecords([key(version, 'i', 'a')]);
    expect(p.calls.bulk).toBe(2);
    expect(store.cache.size).toBe(0);
  });
});

describe('POST /v1/rank with and without the record cache', () => {
  const registry = new ModelRegistry(bundledModels);
  const app = createApp(() => registry);
  const rankWith = async (bindings: Record<string, unknown>, body: unknown) => {
    const res = await app.request(
      'http://worker.test/v1/rank',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
      { ...env, ...bindings },
    );
    expect(res.status).toBe(200);
    return (await res.json()) as RankResponseBody;
  };

  beforeAll(fixtureAndModel(fixture.kv, registry), 120_000);

  it('gives identical results, cold and warm, and a warm cache reads no records from KV', async () => {
    const uncached = probe();
    const cached = probe();
    const requests = [
      fixture.request,
      { ...fixture.request, k: 7 },
      { ...fixture.request, explain: true, k: 3 },
      { ...fixture.request, request_id: 'other', user_id: 'never-seen', items: [...fixture.request.items.slice(0, 20), { id: 'unknown-item', price: 9 }] },
    ];
    for (let round = 0; round < 2; round++) {
      for (const request of requests) {
        const a = await rankWith({ FEATURES: uncached.kv, FEATURE_CACHE_TTL_MS: '0' }, request);
        const b = await rankWith({ FEATURES: cached.kv, FEATURE_SET_REFRESH_MS: '60000' }, request);
        expect(b).toEqual(a);
        expect(a.fallback).toBeNull();
        expect(a.feature_set).toBe('fs-test-fixture');
      }
    }
    // Without the cache every request read its records; with it, only the first sight of a key did.
    expect(uncached.calls.bulk).toBe(2 * (2 + 2 + 2 + 1));
    expect(cached.calls.bulk).toBe(2 + 1);
  });

  it('keeps the fallback: a KV fault on an uncached slate gives the request order with kv_error', async () => {
    const kv = probe();
    kv.failing = true;
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const body = await rankWith({ FEATURES: kv.kv }, fixture.request);
      expect(body.fallback).toBe('kv_error');
      expect(body.items.map((i) => i.id)).toEqual(fixture.request.items.map((i) => i.id));
    } finally {
      logged.mockRestore();
    }
  });

  it('ranks from the cache while KV is down, once the slate and fs:active are cached', async () => {
    const kv = probe();
    const bindings = { FEATURES: kv.kv, FEATURE_SET_REFRESH_MS: '60000' };
    const warm = await rankWith(bindings, fixture.request);
    kv.failing = true;
    const down = await rankWith(bindings, fixture.request);
    expect(down).toEqual(warm);
    expect(down.fallback).toBeNull();
  });
});
