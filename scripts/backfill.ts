// npm run backfill -- --world <dir>: computes user and item features from a world's tables and
// impression log, writes them as a new feature-set version into KV, verifies a sample, and only
// then flips fs:active.
import { resolve } from 'node:path';
import { Command } from 'commander';
import { backfillWorld } from './backfill/backfill-world.ts';
import { openLocalKv } from './backfill/kv-target.ts';

const program = new Command()
  .name('npm run backfill --')
  .description('Compute feature records from a world directory and publish them as a new feature set in KV.')
  .requiredOption('--world <dir>', 'directory with users.csv, items.csv and impressions.csv (see `npm run world`)')
  .option('--version <name>', 'feature-set version name (default: fs-<UTC timestamp>)')
  .option('--config <path>', 'wrangler config that declares the FEATURES binding', 'wrangler.toml')
  .option('--persist-to <dir>', 'Miniflare state directory (default: .wrangler/state/v3, what wrangler dev reads)')
  .option('--batch <n>', 'pairs per write batch', (v) => positiveInt(v, '--batch'), 500)
  .option('--verify <n>', 'pairs to read back before flipping fs:active', (v) => positiveInt(v, '--verify'), 200)
  .option('--json', 'print one JSON summary as the last line', false)
  .parse();

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got '${value}'`);
  return n;
}

const options = program.opts<{ world: string; version?: string; config: string; persistTo?: string; batch: number; verify: number; json: boolean }>();

async function main(): Promise<void> {
  if (options.version !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(options.version)) {
    throw new Error(`--version must be 1-64 characters of A-Z a-z 0-9 . _ -, got '${options.version}'`);
  }
  const kv = await openLocalKv({ configPath: resolve(options.config), ...(options.persistTo ? { persistPath: resolve(options.persistTo) } : {}) });
  try {
    const result = await backfillWorld(kv, resolve(options.world), {
      ...(options.version ? { version: options.version } : {}),
      batchSize: options.batch,
      verifySample: options.verify,
      progress: process.stderr.isTTY && !options.json,
    });
    const rate = Math.round(result.written / result.seconds);
    console.log(`${kv.description}: feature set ${result.active.version} (${result.active.users} users, ${result.active.items} items), ${result.written} keys in ${result.seconds.toFixed(1)} s = ${rate} keys/s; ${result.verified} read back; fs:active flipped`);
    if (options.json) {
      console.log(JSON.stringify({ version: result.active.version, keys: result.written, users: result.active.users, items: result.active.items, seconds: result.seconds, keys_per_second: rate, verified: result.verified }));
    }
  } finally {
    await kv.close();
  }
}

main().catch((error: unknown) => {
  console.error(`backfill failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
