import { Hono, type Context } from 'hono';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../http/errors.ts';
import { readJsonBody } from '../http/json-body.ts';
import { featureStore } from '../features/store-instance.ts';
import { rankSlate } from '../rank/rank-slate.ts';
import { parseRankRequest } from '../rank/schema.ts';
import { StageTimer } from '../rank/server-timing.ts';

export const rankRoutes = new Hono<AppEnv>();

rankRoutes.post('/v1/rank', async (c) => {
  const timer = new StageTimer();
  const request = parseRankRequest(await readJsonBody(c));
  timer.mark('parse');
  const registry = c.get('registry');
  const model = registry.default(c.env.DEFAULT_MODEL);
  const result = await rankSlate(request, {
    store: featureStore(c.env),
    model,
    timer,
    now: new Date(),
    requestId: request.request_id ?? crypto.randomUUID(),
    log: (message, error) => console.error(message, error),
    waitUntil: waitUntilOf(c),
  });
  c.header('Server-Timing', timer.header());
  return c.json(result);
});

/** ctx.waitUntil when the request came with an ExecutionContext (app.request() in tests has none). */
function waitUntilOf(c: Context<AppEnv>): ((promise: Promise<unknown>) => void) | undefined {
  try {
    const ctx = c.executionCtx;
    return (promise) => ctx.waitUntil(promise);
  } catch {
    return undefined;
  }
}

rankRoutes.all('/v1/rank', (c) => {
  c.header('Allow', 'POST');
  throw new ApiError(405, 'method_not_allowed', `${c.req.method} is not allowed on /v1/rank; use POST`);
});
