// The request's `objective` (QA, explain, the playground): it replaces the arm's objective for
// model-scored arms, is validated like an arm's, is reported by explain, and keeps the slate out of
// the exposure log (it is not what the arm serves).
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../worker/app.ts';
import { bundledModels } from '../../worker/model/bundled-models.ts';
import { ModelRegistry } from '../../worker/model/registry.ts';
import { fixtureAndModel } from './helpers.ts';

const fixture = inject('rankFixture');
const registry = new ModelRegistry(bundledModels);
const app = createApp(() => registry);

interface Body {
  arm: string;
  items: Array<{ id: string; score: number; p_ctr: number | null; p_cvr: number | null; explain?: { objective: number; price: number | null } }>;
  explain?: { objective: unknown };
  error?: { code: string; message: string; path?: string };
}

async function call(body: unknown, bindings: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<{ status: number; json: Body }> {
  const tasks: Promise<unknown>[] = [];
  const ctx = { waitUntil: (p: Promise<unknown>) => void tasks.push(p), passThroughOnException: () => undefined, props: {} } as unknown as ExecutionContext;
  const res = await app.request('http://worker.test/v1/rank', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }, { ...env, ...bindings }, ctx);
  const json = (await res.json()) as Body;
  await Promise.all(tasks);
  return { status: res.status, json };
}

async function loggedRequestIds(): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.FEATURES.list({ prefix: 'log:', ...(cursor ? { cursor } : {}) });
    for (const key of page.keys) ids.push((JSON.parse((await env.FEATURES.get(key.name, 'text'))!) as { request_id: string }).request_id);
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return ids;
}

beforeAll(fixtureAndModel(fixture.kv, registry), 120_000);

describe('request objective override', () => {
  it('scores by the request objective instead of the arm objective, and explain says which', async () => {
    const byCtr = (await call({ ...fixture.request, objective: { kind: 'ctr' }, explain: true })).json;
    for (const item of byCtr.items) expect(item.score).toBeCloseTo(item.p_ctr!, 6);
    expect(byCtr.explain!.objective).toEqual({ kind: 'ctr' });
    expect(byCtr.items.every((i) => i.explain!.price === null)).toBe(true);

    const byCtcvr = (await call({ ...fixture.request, objective: { kind: 'ctcvr' } })).json;
    for (const item of byCtcvr.items) expect(item.score).toBeCloseTo(item.p_ctr! * item.p_cvr!, 6);

    const blend = (await call({ ...fixture.request, objective: { kind: 'blend', w_ctr: 1, w_rev: 0.5 }, explain: true })).json;
    expect(blend.explain!.objective).toEqual({ kind: 'blend', w_ctr: 1, w_ctcvr: 0, w_rev: 0.5, price_exponent: 1 });
  });

  it('rejects a bad objective with a 400 naming the field', async () => {
    const unknownKind = await call({ ...fixture.request, objective: { kind: 'margin' } });
    expect(unknownKind.status).toBe(400);
    expect(unknownKind.json.error!.path).toBe('objective.kind');
    const negative = await call({ ...fixture.request, objective: { kind: 'blend', w_ctr: -1 } });
    expect(negative.status).toBe(400);
    expect(negative.json.error!.path).toBe('objective.w_ctr');
    const extra = await call({ ...fixture.request, objective: { kind: 'ctr', weight: 2 } });
    expect(extra.status).toBe(400);
    expect(extra.json.error!.message).toContain('weight');
  });

  it('leaves a popularity arm alone (it has no objective)', async () => {
    const config = JSON.stringify({ experiment: 'ov-1', arms: [{ name: 'popular', kind: 'popularity', share: 100 }] });
    const plain = (await call(fixture.request, { EXPERIMENTS: config })).json;
    const overridden = (await call({ ...fixture.request, objective: { kind: 'ctr' } }, { EXPERIMENTS: config })).json;
    expect(overridden.arm).toBe('popular');
    expect(overridden.items.map((i) => i.id)).toEqual(plain.items.map((i) => i.id));
  });

  it('keeps the slate out of the exposure log; the same request without it is logged', async () => {
    const tag = `ov-${Date.now()}`;
    await call({ ...fixture.request, request_id: `${tag}-override`, objective: { kind: 'ctr' } }, { EXPOSURE_SINK: 'kv' });
    await call({ ...fixture.request, request_id: `${tag}-plain` }, { EXPOSURE_SINK: 'kv' });
    const logged = await loggedRequestIds();
    expect(logged).toContain(`${tag}-plain`);
    expect(logged).not.toContain(`${tag}-override`);
  });
});
