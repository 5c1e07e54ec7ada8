// Security inside workerd: admin routes behind the bearer secret ADMIN_TOKEN, CORS by allowlist,
// secure headers with a CSP that fits a same-origin page, and user ids that never reach the
// exposure log raw (hashed with EXPERIMENT_SALT, or left out when it is missing).
import { env, exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { ExposureRow } from '../../model/data/exposure-row.ts';
import { createApp } from '../../worker/app.ts';
import { EXPERIMENTS_KV_KEY } from '../../worker/experiments/source.ts';
import { featureStore } from '../../worker/features/store-instance.ts';
import { constantTimeEqual } from '../../worker/http/secrets.ts';
import { bundledModels } from '../../worker/model/bundled-models.ts';
import { ModelRegistry } from '../../worker/model/registry.ts';
import { fixtureAndModel } from './helpers.ts';

const fixture = inject('rankFixture');
const registry = new ModelRegistry(bundledModels);
const app = createApp(() => registry);

async function call(path: string, init: RequestInit = {}, bindings: Record<string, unknown> = {}) {
  const tasks: Promise<unknown>[] = [];
  const ctx = { waitUntil: (p: Promise<unknown>) => void tasks.push(p), passThroughOnException: () => undefined, props: {} } as unknown as ExecutionContext;
  const res = await app.request(`http://worker.test${path}`, init, { ...env, ...bindings }, ctx);
  const text = await res.text();
  await Promise.all(tasks);
  return { res, json: text ? (JSON.parse(text) as any) : null };
}

const post = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

beforeAll(fixtureAndModel(fixture.kv, registry), 120_000);

describe('admin routes', () => {
  it('need the bearer secret: 401 without it or with a wrong one, 503 when ADMIN_TOKEN is not set', async () => {
    for (const path of ['/admin/cache/flush', '/admin/config/reload']) {
      let r = await call(path, { method: 'POST' });
      expect(r.res.status).toBe(401);
      expect(r.json.error.code).toBe('unauthorized');
      expect(r.json.error.path).toBe('authorization');
      expect(r.res.headers.get('www-authenticate')).toMatch(/^Bearer realm="admin"/);
      r = await call(path, { method: 'POST', headers: bearer('test-admin-tokeN') });
      expect(r.res.status).toBe(401);
      r = await call(path, { method: 'POST', headers: bearer('test-admin-token-but-longer') });
      expect(r.res.status).toBe(401);
      // the QA override token is not an admin token
      r = await call(path, { method: 'POST', headers: bearer('test-override-token') });
      expect(r.res.status).toBe(401);
      r = await call(path, { method: 'POST', headers: bearer('test-admin-token') }, { ADMIN_TOKEN: undefined });
      expect(r.res.status).toBe(503);
      expect(r.json.error.code).toBe('not_configured');
      expect(r.json.error.message).toMatch(/ADMIN_TOKEN is not set/);
    }
    // an unknown admin path is a 401 without the token (nothing about the routes leaks), a 404 with it
    expect((await call('/admin/nope', { method: 'POST' })).res.status).toBe(401);
    expect((await call('/admin/nope', { method: 'POST', headers: bearer('test-admin-token') })).res.status).toBe(404);
  });

  it('POST /admin/cache/flush drops the isolate feature cache', async () => {
    await call('/v1/rank', post(fixture.request));
    const store = featureStore(env);
    expect(store.cache.size).toBeGreaterThan(0);
    const { res, json } = await call('/admin/cache/flush', { method: 'POST', headers: bearer('test-admin-token') });
    expect(res.status).toBe(200);
    expect(json.flushed.records).toBeGreaterThan(0);
    expect(store.cache.size).toBe(0);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('POST /admin/config/reload re-reads config:experiments now, not after EXPERIMENTS_REFRESH_MS', async () => {
    let config: string | null = null;
    const kv = {
      get: (key: string | string[], type?: unknown) => (key === EXPERIMENTS_KV_KEY ? Promise.resolve(config) : (env.FEATURES.get as (k: unknown, t: unknown) => Promise<unknown>).call(env.FEATURES, key, type)),
    } as unknown as KVNamespace;
    const bindings = { FEATURES: kv, EXPERIMENTS_REFRESH_MS: '3600000' };
    const arms = async () => ((await call('/healthz', {}, bindings)).json.experiments.arms as Array<{ name: string }>).map((a) => a.name);
    expect(await arms()).toEqual(['default']);
    config = JSON.stringify({ experiment: 'reload-1', arms: [{ name: 'a', kind: 'model', share: 50 }, { name: 'b', kind: 'popularity', share: 50 }] });
    expect(await arms()).toEqual(['default']); // cached for an hour
    const { res, json } = await call('/admin/config/reload', { method: 'POST', headers: bearer('test-admin-token') }, bindings);
    expect(res.status).toBe(200);
    expect(json.experiments.experiment).toBe('reload-1');
    expect(await arms()).toEqual(['a', 'b']);
  });

  it('compares secrets in constant time with workerd crypto.subtle.timingSafeEqual over SHA-256 digests', async () => {
    expect(typeof (crypto.subtle as unknown as { timingSafeEqual?: unknown }).timingSafeEqual).toBe('function');
    expect(await constantTimeEqual('s3cret', 's3cret')).toBe(true);
    expect(await constantTimeEqual('s3cret', 's3creT')).toBe(false);
    // different lengths compare as digests, without throwing (timingSafeEqual itself would)
    expect(await constantTimeEqual('s3cret', 's3cret-and-more')).toBe(false);
    expect(await constantTimeEqual('', 'x')).toBe(false);
  });
});

describe('CORS', () => {
  const origins = { CORS_ORIGINS: 'https://shop.example, https://m.shop.example/' };

  it('allows the listed origins on /v1/*, and nobody else', async () => {
    let r = await call('/v1/rank', post(fixture.request, { origin: 'https://shop.example' }), origins);
    expect(r.res.status).toBe(200);
    expect(r.res.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(r.res.headers.get('access-control-expose-headers')).toMatch(/Server-Timing/i);
    expect(r.res.headers.get('vary')).toMatch(/Origin/);
    r = await call('/v1/rank', post(fixture.request, { origin: 'https://m.shop.example' }), origins);
    expect(r.res.headers.get('access-control-allow-origin')).toBe('https://m.shop.example');
    r = await call('/v1/rank', post(fixture.request, { origin: 'https://evil.example' }), origins);
    expect(r.res.headers.get('access-control-allow-origin')).toBeNull();
    // unset: no cross-origin browser call at all
    r = await call('/v1/rank', post(fixture.request, { origin: 'https://shop.example' }), { CORS_ORIGINS: undefined });
    expect(r.res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('adds no CORS headers to a call without Origin (server to server), only Vary: Origin', async () => {
    const r = await call('/v1/rank', post(fixture.request), origins);
    expect(r.res.status).toBe(200);
    expect(r.res.headers.get('access-control-allow-origin')).toBeNull();
    expect(r.res.headers.get('access-control-expose-headers')).toBeNull();
    expect(r.res.headers.get('vary')).toBe('Origin');
    expect(r.res.headers.get('content-security-policy')).toBeTruthy();
  });

  it('answers a preflight for an allowed origin with the methods and headers, never on /admin', async () => {
    const preflight = { method: 'OPTIONS', headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } };
    let r = await call('/v1/rank', preflight, origins);
    expect(r.res.status).toBe(204);
    expect(r.res.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(r.res.headers.get('access-control-allow-methods')).toMatch(/POST/);
    expect(r.res.headers.get('access-control-allow-headers')).toMatch(/content-type/);
    r = await call('/admin/cache/flush', preflight, origins);
    expect(r.res.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('secure headers', () => {
  it('every response carries them, and the CSP allows a same-origin page with no inline script or style', async () => {
    const responses = [
      (await call('/healthz')).res,
      (await call('/v1/rank', post(fixture.request))).res,
      (await call('/v1/rank', post({ items: [] }))).res,
      (await call('/no-such-path')).res,
      await exports.default.fetch('http://worker.test/v1/model'),
    ];
    for (const res of responses) {
      const csp = res.headers.get('content-security-policy')!;
      expect(csp).toBeTruthy();
      expect(csp).toMatch(/default-src 'self'/);
      expect(csp).toMatch(/script-src 'self'(;|$)/);
      expect(csp).toMatch(/style-src 'self'(;|$)/);
      expect(csp).toMatch(/connect-src 'self'/);
      expect(csp).toMatch(/frame-ancestors 'none'/);
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('strict-transport-security')).toMatch(/max-age=/);
    }
  });
});

describe('user ids in the exposure log', () => {
  const userId = 'user-private-4711';

  async function rowFor(requestId: string): Promise<ExposureRow> {
    let cursor: string | undefined;
    do {
      const page = await env.FEATURES.list({ prefix: 'log:', ...(cursor ? { cursor } : {}) });
      for (const key of page.keys) {
        const text = (await env.FEATURES.get(key.name, 'text'))!;
        if (text.includes(requestId)) return JSON.parse(text) as ExposureRow;
      }
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    throw new Error(`no exposure row for ${requestId}`);
  }

  it('with EXPERIMENT_SALT: a keyed hash, never the raw id (user id or client id)', async () => {
    const requestId = `salted-${Date.now()}`;
    await call('/v1/rank', post({ ...fixture.request, user_id: userId, request_id: requestId }), { EXPOSURE_SINK: 'kv' });
    const row = await rowFor(requestId);
    expect(row.unit.hash).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.stringify(row)).not.toContain(userId);
    const anonymousId = `anon-${Date.now()}`;
    await call('/v1/rank', post({ items: fixture.request.items, request_id: anonymousId }, { 'x-client-id': 'client-private-99' }), { EXPOSURE_SINK: 'kv' });
    const anonymous = await rowFor(anonymousId);
    expect(anonymous.unit.kind).toBe('client');
    expect(JSON.stringify(anonymous)).not.toContain('client-private-99');
  });

  it('without EXPERIMENT_SALT: no hash at all (not a raw id, not a reversible unsalted hash), and /healthz says so', async () => {
    const requestId = `unsalted-${Date.now()}`;
    await call('/v1/rank', post({ ...fixture.request, user_id: userId, request_id: requestId }), { EXPOSURE_SINK: 'kv', EXPERIMENT_SALT: undefined });
    const row = await rowFor(requestId);
    expect(row.unit).toEqual({ kind: 'user', hash: null });
    expect(JSON.stringify(row)).not.toContain(userId);
    const health = (await call('/healthz', {}, { EXPOSURE_SINK: 'kv', EXPERIMENT_SALT: undefined })).json;
    expect(health.status).toBe('degraded');
    expect(health.degraded).toContain('exposures');
    expect(health.exposures.error).toMatch(/EXPERIMENT_SALT is not set/);
  });
});
