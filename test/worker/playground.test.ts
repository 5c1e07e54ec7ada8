// The playground's routes inside workerd: the page and its two same-origin files (no inline script
// or style, so a CSP of 'self' fits), revalidation by ETag, and the samples route, which is off
// unless PLAYGROUND_SAMPLES is "on" and then takes its users and slates from the live feature set.
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../worker/app.ts';
import { bundledModels } from '../../worker/model/bundled-models.ts';
import { ModelRegistry } from '../../worker/model/registry.ts';
import type { Samples } from '../../worker/playground/samples.ts';
import { putAll } from './helpers.ts';

const fixture = inject('rankFixture');
const registry = new ModelRegistry(bundledModels);
const app = createApp(() => registry);
const get = (path: string, bindings: Record<string, unknown> = {}, headers: Record<string, string> = {}) => app.request(`http://worker.test${path}`, { headers }, { ...env, ...bindings });

beforeAll(async () => {
  await putAll(fixture.kv);
});

describe('playground', () => {
  it('serves the page, which loads only same-origin files', async () => {
    const res = await get('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('<script type="module" src="/playground.js"></script>');
    expect(html).toContain('<link rel="stylesheet" href="/playground.css">');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i); // no inline style, no inline handlers
    const js = await get('/playground.js');
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await js.text()).toContain("fetch('/v1/rank'");
    const css = await get('/playground.css');
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const first = await get('/playground.js');
    const tag = first.headers.get('etag')!;
    expect(tag).toMatch(/^"[0-9a-f]{20}"$/);
    const again = await get('/playground.js', {}, { 'if-none-match': tag });
    expect(again.status).toBe(304);
  });

  it('samples: 404 unless PLAYGROUND_SAMPLES is on; then users and slates of the live feature set', async () => {
    expect((await get('/playground/samples')).status).toBe(404);
    const res = await get('/playground/samples', { PLAYGROUND_SAMPLES: 'on' });
    expect(res.status).toBe(200);
    const samples = (await res.json()) as Samples;
    const users = new Set(fixture.kv.filter((p) => p.key.includes(':u:')).map((p) => p.key.split(':u:')[1]));
    const items = new Set(fixture.kv.filter((p) => p.key.includes(':i:')).map((p) => p.key.split(':i:')[1]));
    expect(samples.feature_set).not.toBeNull();
    expect(samples.users.length).toBeGreaterThan(0);
    for (const user of samples.users) expect(users.has(user.id)).toBe(true);
    expect(samples.slates.length).toBeGreaterThan(0);
    for (const slate of samples.slates) {
      expect(slate.items.length).toBeGreaterThan(0);
      for (const item of slate.items) expect(items.has(item.id)).toBe(true);
    }
    // a sample slate is a valid rank request as it is
    const slate = samples.slates[0]!;
    const ranked = await app.request('http://worker.test/v1/rank', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user_id: samples.users[0]!.id, context: slate.context, items: slate.items, explain: true }) }, env);
    expect(ranked.status).toBe(200);
  });
});
