// Bring your own model: the worker serves any ONNX model that matches its manifest. Each model here
// was built in Node by test/fixtures/byo-models.ts (gradient-boosted tree ensembles as ai.onnx.ml
// TreeEnsemble ops, a quantize_dynamic-style int8 network) and scored there with onnxruntime-node.
// Inside workerd it goes through the worker's own serving code: a ModelRegistry of LoadedModels,
// the Hono app with its /v1/rank route (createApp takes the registry: the seam the bundled models
// use too), rankSlate, the FeatureStore over the test's KV, onnxruntime-web.
import { env } from 'cloudflare:workers';
import { afterEach, beforeAll, describe, expect, inject, it, vi, type MockInstance } from 'vitest';
import { createApp } from '../../worker/app.ts';
import { ModelRegistry } from '../../worker/model/registry.ts';
import { putAll, type RankResponseBody } from './helpers.ts';

const rankFixture = inject('rankFixture');
const byo = inject('byoFixture');

function bytesOf(base64: string): ArrayBuffer {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

/** The worker's app over a registry holding just this model (so it is the default). */
function appServing(model: { manifest: unknown; bytes_base64: string }) {
  const registry = new ModelRegistry([{ manifest: model.manifest, bytes: bytesOf(model.bytes_base64) }]);
  return { registry, app: createApp(() => registry) };
}

async function rank(app: ReturnType<typeof createApp>, body: unknown): Promise<Response> {
  return app.request(
    'http://worker.test/v1/rank',
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
    env,
  );
}

const requestIds = rankFixture.request.items.map((i) => i.id);

describe('bring your own model: served through the worker', () => {
  const served = byo.models.map((model) => ({ model, ...appServing(model) }));

  beforeAll(async () => {
    await putAll(rankFixture.kv);
    // The first ORT session in a fresh isolate pays for the wasm start-up.
    await Promise.all(served.map(({ registry }) => registry.default().ready()));
  }, 120_000);

  it.each(served.map((s) => [s.model.kind, s] as const))('%s: ranks the slate with onnxruntime-node\'s probabilities', async (_kind, { model, app }) => {
    const res = await rank(app, rankFixture.request);
    expect(res.status).toBe(200);
    const body = (await res.json()) as RankResponseBody;
    expect(body.fallback).toBeNull();
    expect(body.model).toEqual({ id: model.manifest.model.id, version: model.manifest.model.version });
    // The features came from KV (the reference scores were computed from the same records).
    expect(body.feature_set).toBe('fs-test-fixture');

    const ids = body.items.map((i) => i.id);
    expect(ids).toHaveLength(requestIds.length);
    expect([...ids].sort()).toEqual([...requestIds].sort());
    for (let i = 1; i < body.items.length; i++) expect(body.items[i - 1]!.score).toBeGreaterThanOrEqual(body.items[i]!.score);

    const index = new Map(requestIds.map((id, j) => [id, j]));
    let worst = 0;
    for (const item of body.items) {
      for (const p of [item.p_ctr, item.p_cvr]) {
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThanOrEqual(1);
      }
      const j = index.get(item.id)!;
      worst = Math.max(worst, Math.abs(item.p_ctr - model.expected.p_ctr[j]!), Math.abs(item.p_cvr - model.expected.p_cvr[j]!));
    }
    expect(worst).toBeLessThan(1e-5);
    // The model really discriminates between items (a constant model would pass the checks above).
    expect(new Set(model.expected.p_ctr).size).toBeGreaterThan(10);
    expect(ids).not.toEqual(requestIds);
  });
});

describe('bring your own model: outputs that do not match the manifest', () => {
  const served = byo.broken.map((model) => ({ model, ...appServing(model) }));
  let logged: MockInstance<typeof console.error> | undefined;

  beforeAll(async () => {
    await putAll(rankFixture.kv);
  });

  afterEach(() => {
    logged?.mockRestore();
  });

  // The fallback order: the records were read, so the items' stored click_coec (README, "Reliability").
  const storedCoec = new Map(rankFixture.kv.filter((p) => p.key.includes(':i:')).map((p) => [p.key.split(':i:')[1]!, JSON.parse(p.value).click_coec as number]));
  const priorOrder = requestIds.map((id, i) => ({ id, i, v: storedCoec.get(id) ?? 0 })).sort((a, b) => b.v - a.v || a.i - b.i).map((x) => x.id);

  it.each(served.map((s) => [s.model.why, s] as const))('%s: the popularity prior with fallback model_error, not a 500', async (_why, { model, app }) => {
    logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const res = await rank(app, rankFixture.request);
    expect(res.status).toBe(200);
    const body = (await res.json()) as RankResponseBody;
    expect(body.fallback).toBe('model_error');
    expect(body.model.id).toBe(model.manifest.model.id);
    expect((body as RankResponseBody & { fallback_order?: string }).fallback_order).toBe('popularity');
    expect(body.items.map((i) => i.id)).toEqual(priorOrder);
    for (const item of body.items) {
      expect(item.p_ctr).toBeNull();
      expect(item.p_cvr).toBeNull();
    }
    for (let i = 1; i < body.items.length; i++) expect(body.items[i - 1]!.score).toBeGreaterThanOrEqual(body.items[i]!.score);
    // The fallback was the model's fault, and the log says what went wrong.
    expect(logged).toHaveBeenCalledWith('model scoring failed', expect.anything());
    const error = logged!.mock.calls.find((call) => call[0] === 'model scoring failed')![1];
    expect(String(error instanceof Error ? error.message : error)).toMatch(new RegExp(model.error_pattern, 'i'));
  });
});
