// The local mode writes the Miniflare KV that `wrangler dev` reads: a feature set backfilled through
// the bulk-writing worker reads back through wrangler's getPlatformProxy with the wrangler.toml binding.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ACTIVE_KEY, itemKey, userKey } from '../../model/features/kv-layout.ts';
import { createWorld, worldSettings, writeWorld } from '../../model/world/index.ts';
import { backfillWorld } from '../../scripts/backfill/backfill-world.ts';
import { MemoryKvTarget, openLocalKv } from '../../scripts/backfill/kv-target.ts';

const ROOT = resolve(import.meta.dirname, '../..');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'backfill-local-'));
  await writeWorld(createWorld(worldSettings('tiny')), join(dir, 'world'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('fills the local KV that wrangler dev reads', async () => {
  const persistPath = join(dir, 'state');
  const kv = await openLocalKv({ configPath: join(ROOT, 'wrangler.toml'), persistPath });
  let result;
  try {
    result = await backfillWorld(kv, join(dir, 'world'), { version: 'fs-local-test', batchSize: 300 });
  } finally {
    await kv.close();
  }
  expect(result.flipped).toBe(true);
  const reference = new MemoryKvTarget();
  await backfillWorld(reference, join(dir, 'world'), { version: 'fs-local-test' });

  process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false';
  const { getPlatformProxy } = await import('wrangler');
  const proxy = await getPlatformProxy<{ FEATURES: KVNamespace }>({ configPath: join(ROOT, 'wrangler.toml'), persist: { path: persistPath } });
  try {
    const active = JSON.parse((await proxy.env.FEATURES.get(ACTIVE_KEY))!) as { version: string; users: number; items: number };
    expect(active).toMatchObject({ version: 'fs-local-test', users: 300, items: 400 });
    for (const key of [userKey('fs-local-test', 'u000000'), userKey('fs-local-test', 'u000299'), itemKey('fs-local-test', 'i000123')]) {
      expect(await proxy.env.FEATURES.get(key)).toBe(reference.data.get(key));
    }
  } finally {
    await proxy.dispose();
  }
});
