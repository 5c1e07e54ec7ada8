// The worker as the e2e tests see it: a small world backfilled into a fresh local KV, the deployable
// bundle (`wrangler deploy --dry-run --outdir`) served by `wrangler dev --no-bundle` on a free
// loopback port in its own process group (scripts/bench/wrangler-dev.ts), stopped as a group.
// Serving the built bundle means edits to the sources during the run do not reload the worker.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createWorld, worldSettings, writeWorld } from '../../model/world/index.ts';
import { backfillWorld } from '../../scripts/backfill/backfill-world.ts';
import { openLocalKv } from '../../scripts/backfill/kv-target.ts';
import { buildBundle } from '../../scripts/bench/bundle.ts';
import { startWranglerDev, stopWranglerDev, waitUntilReady, type DevServer } from '../../scripts/bench/wrangler-dev.ts';

export const ROOT = resolve(import.meta.dirname, '../..');

export interface E2eWorker {
  base: string;
  dir: string;
  server: DevServer;
  stop(): Promise<void>;
}

/** Backfills the tiny world (300 users, 400 items) and serves the worker over it with `vars`. */
export async function startE2eWorker(vars: Record<string, string>): Promise<E2eWorker> {
  // Under the project (gitignored .data/): wrangler dev finds wrangler.toml by walking up from the
  // bundle, and a bundle under /tmp gets no config (and so today's compatibility date).
  await mkdir(join(ROOT, '.data', 'e2e'), { recursive: true });
  const dir = await mkdtemp(join(ROOT, '.data', 'e2e', 'run-'));
  const world = join(dir, 'world');
  const state = join(dir, 'state');
  const [{ script }] = await Promise.all([
    buildBundle(ROOT, join(dir, 'dist')),
    (async () => {
      await writeWorld(createWorld(worldSettings('tiny')), world);
      // wrangler dev --persist-to <dir> keeps its KV under <dir>/v3
      const kv = await openLocalKv({ configPath: join(ROOT, 'wrangler.toml'), persistPath: join(state, 'v3') });
      try {
        await backfillWorld(kv, world, { version: 'fs-e2e' });
      } finally {
        await kv.close();
      }
    })(),
  ]);
  const server = await startWranglerDev({ root: ROOT, script, persistTo: state, log: join(dir, 'wrangler-dev.log'), vars });
  const stop = async () => {
    await stopWranglerDev(server);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilReady(server, '/healthz', 90_000);
  } catch (error) {
    await stopWranglerDev(server);
    throw error;
  }
  return { base: server.base, dir, server, stop };
}
