// The playground (README, "Playground"): GET / (the page), /playground.css, /playground.js, and
// GET /playground/samples (users and slates from the live feature set). The page and its files are
// static and same-origin (no inline script or style), so a strict CSP fits it; the samples route
// lists KV keys (user ids, catalog ids), so it answers 404 like any unknown path unless the wrangler
// var PLAYGROUND_SAMPLES is "on" (npm start and the e2e test set it; wrangler.toml does not).
import { Hono } from 'hono';
import type { AppEnv } from '../env.ts';
import { featureStore } from '../features/store-instance.ts';
import { ApiError } from '../http/errors.ts';
import { PLAYGROUND_ASSETS } from '../playground/assets.ts';
import { playgroundSamples } from '../playground/samples.ts';

export const playgroundRoutes = new Hono<AppEnv>();

for (const [path, asset] of Object.entries(PLAYGROUND_ASSETS)) {
  playgroundRoutes.get(path, (c) => {
    // Revalidated on every load (cheap: a 304), so a new deployment's page is never mixed with an old script.
    c.header('Cache-Control', 'no-cache');
    c.header('ETag', asset.etag);
    if (c.req.header('if-none-match') === asset.etag) return c.body(null, 304);
    c.header('Content-Type', asset.type);
    return c.body(asset.body);
  });
}

playgroundRoutes.get('/playground/samples', async (c) => {
  if (c.env.PLAYGROUND_SAMPLES !== 'on') throw new ApiError(404, 'not_found', `no route for GET ${new URL(c.req.url).pathname}`);
  c.header('Cache-Control', 'no-store');
  return c.json(await playgroundSamples(c.env.FEATURES, featureStore(c.env)));
});
