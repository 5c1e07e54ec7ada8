// Shared helpers of the workerd tests: call the worker's own fetch handler, load KV fixtures.
import { env, exports } from 'cloudflare:workers';

export function rank(body: unknown, init: { headers?: Record<string, string> } = {}): Promise<Response> {
  return exports.default.fetch('http://worker.test/v1/rank', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...init.headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export async function putAll(pairs: ReadonlyArray<{ key: string; value: string }>): Promise<void> {
  await Promise.all(pairs.map((p) => env.FEATURES.put(p.key, p.value)));
}

/** A beforeAll body: the KV fixture written and the registry's default model's session ready. */
export function fixtureAndModel(pairs: ReadonlyArray<{ key: string; value: string }>, registry: { default(): { ready(): Promise<unknown> } }): () => Promise<void> {
  return async () => {
    await putAll(pairs);
    await registry.default().ready();
  };
}

export interface RankResponseBody {
  request_id: string;
  model: { id: string; version: string };
  arm: string;
  feature_set: string | null;
  items: Array<{ id: string; score: number; p_ctr: number; p_cvr: number; features?: Record<string, number> }>;
  fallback: string | null;
}

export interface ErrorResponseBody {
  error: { code: string; message: string; path?: string };
}
