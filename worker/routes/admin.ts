// Admin routes, behind the bearer secret ADMIN_TOKEN (`wrangler secret put ADMIN_TOKEN`), compared
// in constant time (http/secrets.ts). Unset, they answer 503 saying so; a missing or wrong token is
// a 401. They act on the isolate that serves the call (Workers run many): to reach all of them,
// repeat the call or wait for the TTLs.
//   POST /admin/cache/flush     drops this isolate's feature record cache and its copy of fs:active
//   POST /admin/config/reload   re-reads the experiments config (KV config:experiments) now
import { Hono } from 'hono';
import type { AppEnv } from '../env.ts';
import { reloadExperiments } from '../experiments/source.ts';
import { featureStore } from '../features/store-instance.ts';
import { ApiError } from '../http/errors.ts';
import { checkToken } from '../http/secrets.ts';

export const adminRoutes = new Hono<AppEnv>();

adminRoutes.use('/admin/*', async (c, next) => {
  c.header('Cache-Control', 'no-store');
  const check = await checkToken(c, [c.env.ADMIN_TOKEN]);
  if (check === 'not_configured') throw new ApiError(503, 'not_configured', 'admin routes are disabled: the secret ADMIN_TOKEN is not set');
  if (check !== 'ok') {
    c.header('WWW-Authenticate', 'Bearer realm="admin"');
    throw new ApiError(401, 'unauthorized', `admin routes need Authorization: Bearer <ADMIN_TOKEN> (${check === 'missing' ? 'none given' : 'wrong token'})`, 'authorization');
  }
  await next();
});

adminRoutes.post('/admin/cache/flush', (c) => {
  const dropped = featureStore(c.env).flush({ active: true });
  return c.json({ flushed: { records: dropped, active_pointer: true } });
});

adminRoutes.post('/admin/config/reload', async (c) => {
  const registry = c.get('registry');
  if (!registry.available) throw new ApiError(409, 'not_configured', `no model is loaded, so no experiments config can be compiled: ${registry.failures.join('; ')}`);
  const { experiments, error } = await reloadExperiments(c.env, registry);
  return c.json({
    experiments: { experiment: experiments.experiment, source: experiments.source, arms: experiments.arms.map((a) => ({ name: a.name, kind: a.kind, share: a.share })), ...(error ? { error } : {}) },
  });
});
