// The Hono app: typed context, routes, and the one place errors become JSON.
import { Hono } from 'hono';
import type { AppEnv, Bindings } from './env.ts';
import { FallbackTracker } from './health/fallbacks.ts';
import { ApiError } from './http/errors.ts';
import { apiCors, securityHeaders } from './http/security.ts';
import type { ModelRegistry } from './model/registry.ts';
import { adminRoutes } from './routes/admin.ts';
import { benchRoutes } from './routes/bench.ts';
import { metaRoutes } from './routes/meta.ts';
import { playgroundRoutes } from './routes/playground.ts';
import { rankRoutes } from './routes/rank.ts';

export function createApp(registry: (env: Bindings) => ModelRegistry): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  // one per app: per isolate in production, per app in tests
  const fallbacks = new FallbackTracker();

  app.use(securityHeaders());
  app.use('/v1/*', apiCors());
  app.use(async (c, next) => {
    c.set('registry', registry(c.env));
    c.set('fallbacks', fallbacks);
    await next();
  });

  app.route('/', rankRoutes);
  app.route('/', metaRoutes);
  app.route('/', adminRoutes);
  app.route('/', playgroundRoutes);
  // 404 unless the wrangler var BENCH_ROUTES is "on" (only `npm run bench` sets it)
  app.route('/', benchRoutes);

  app.notFound((c) => c.json(new ApiError(404, 'not_found', `no route for ${c.req.method} ${new URL(c.req.url).pathname}`).toBody(), 404));

  app.onError((error, c) => {
    if (error instanceof ApiError) return c.json(error.toBody(), error.status);
    console.error('unhandled error', error);
    return c.json(new ApiError(500, 'internal', 'internal error').toBody(), 500);
  });

  return app;
}
