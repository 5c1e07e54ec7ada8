// npm run backfill -- --world <dir> | --users <f> --items <f> --impressions <f>  [--remote ...]
// Computes user and item features from the tables and the impression log, writes them as a new
// feature-set version into KV (the local Miniflare KV, or a Cloudflare KV namespace with --remote),
// verifies a sample, and only then flips fs:active.
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import v8 from 'node:v8';
import { Command, InvalidArgumentError, Option } from 'commander';
import { runBackfill, worldInputs, type InputPaths } from './backfill/backfill-world.ts';
import { DEFAULT_API_BASE, openRemoteKv } from './backfill/cloudflare-kv.ts';
import { openLocalKv, type KvTarget } from './backfill/kv-target.ts';
import { KV_LIMITS } from './backfill/publish.ts';
import { TABLE_FORMATS, type TableFormat } from './backfill/tables.ts';

// A larger young generation: the backfill allocates rows and strings at a high rate beside a heap of
// long-lived statistics, and with V8's default semi-space short-lived objects get promoted and make
// for expensive full collections. Measured on the 2M-key world: 48 s of CPU -> 34 s.
if (!/--max-semi-space-size/.test(`${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`)) v8.setFlagsFromString('--max-semi-space-size=64');

function intRange(flag: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${flag} must be an integer from ${min} to ${max}`);
    return n;
  };
}

interface CliOptions {
  world?: string;
  users?: string;
  items?: string;
  impressions?: string;
  format?: TableFormat;
  version?: string;
  remote: boolean;
  accountId?: string;
  namespaceId?: string;
  apiBase: string;
  config: string;
  persistTo?: string;
  batch?: number;
  maxRequestBytes: number;
  concurrency?: number;
  maxRetries: number;
  verify: number;
  checkpoint?: string;
  resume: boolean;
  dryRun: boolean;
  json: boolean;
}

const program = new Command()
  .name('npm run backfill --')
  .description('Compute feature records from the user, item and impression tables and publish them as a new feature set in Workers KV.')
  .option('--world <dir>', 'a world directory (users.csv, items.csv, impressions.csv; see `npm run world`)')
  .option('--users <path>', 'user table: a .csv, .jsonl/.ndjson (optionally .gz) or .parquet file, or a directory of part files')
  .option('--items <path>', 'item (catalog) table, as --users')
  .option('--impressions <path>', 'impression log, as --users')
  .addOption(new Option('--format <format>', 'format of every input (default: from each file extension)').choices(TABLE_FORMATS))
  .option('--version <name>', 'feature-set version name (default: fs-<UTC timestamp>, or the checkpoint\'s when resuming)')
  .option('--remote', 'write to a Cloudflare KV namespace through the REST API (token from CLOUDFLARE_API_TOKEN)', false)
  .option('--account-id <id>', 'Cloudflare account id (with --remote)')
  .option('--namespace-id <id>', 'KV namespace id (with --remote)')
  .option('--api-base <url>', 'Cloudflare API base URL (with --remote)', DEFAULT_API_BASE)
  .option('--config <path>', 'wrangler config that declares the FEATURES binding (local mode)', 'wrangler.toml')
  .option('--persist-to <dir>', 'Miniflare state directory (local mode; default: .wrangler/state/v3 beside the config, what wrangler dev reads)')
  .option('--batch <n>', `pairs per write request (at most ${KV_LIMITS.pairsPerRequest}; default 10000 remote, 5000 local)`, intRange('--batch', 1, KV_LIMITS.pairsPerRequest))
  .option('--max-request-bytes <n>', 'bytes per write request', intRange('--max-request-bytes', 1024, KV_LIMITS.requestBytes), KV_LIMITS.requestBytes)
  .option('--concurrency <n>', 'write requests in flight (default 4 remote, 1 local)', intRange('--concurrency', 1, 64))
  .option('--max-retries <n>', 'retries per request on 429, 5xx and dropped connections (remote)', intRange('--max-retries', 0, 100), 8)
  .option('--verify <n>', 'sampled pairs read back before fs:active flips', intRange('--verify', 0), 200)
  .option('--checkpoint <file>', 'checkpoint file (default: .data/backfill/checkpoint-<target>.json)')
  .option('--no-resume', 'ignore an existing checkpoint and start a new version')
  .option('--dry-run', 'compute and batch everything, send nothing; report counts and bytes', false)
  .option('--json', 'print one JSON summary as the last line', false)
  .addHelpText(
    'after',
    `
Examples:
  npm run backfill -- --world .data/worlds/demo-seed1-200000
  npm run backfill -- --users users.parquet --items items.parquet --impressions impressions/ --dry-run
  CLOUDFLARE_API_TOKEN=... npm run backfill -- --world <dir> --remote --account-id <id> --namespace-id <id>`,
  )
  .parse();

const options = program.opts<CliOptions>();

function inputPaths(): InputPaths {
  const fromWorld = options.world ? worldInputs(resolve(options.world)) : undefined;
  const users = options.users ?? fromWorld?.users;
  const items = options.items ?? fromWorld?.items;
  const impressions = options.impressions ?? fromWorld?.impressions;
  const missing = [!users && '--users', !items && '--items', !impressions && '--impressions'].filter(Boolean);
  if (missing.length > 0) throw new Error(`give --world <dir>, or ${missing.join(', ')}`);
  return { users: resolve(users!), items: resolve(items!), impressions: resolve(impressions!), ...(options.format ? { format: options.format } : {}) };
}

async function openTarget(): Promise<{ target: KvTarget; id: string }> {
  if (options.remote) {
    const target = openRemoteKv({
      token: process.env.CLOUDFLARE_API_TOKEN ?? '',
      accountId: options.accountId ?? '',
      namespaceId: options.namespaceId ?? '',
      apiBase: options.apiBase,
      maxRetries: options.maxRetries,
    });
    return { target, id: `remote:${options.accountId}/${options.namespaceId}` };
  }
  if (options.accountId || options.namespaceId) throw new Error('--account-id and --namespace-id need --remote');
  const config = resolve(options.config);
  const target = await openLocalKv({ configPath: config, ...(options.persistTo ? { persistPath: resolve(options.persistTo) } : {}) });
  return { target, id: `local:${options.persistTo ? resolve(options.persistTo) : config}` };
}

/** A dry run needs no target: it counts what would be sent. */
const dryTarget: KvTarget = {
  description: 'dry run (nothing sent)',
  maxPairs: KV_LIMITS.pairsPerRequest,
  putBatch: async () => {},
  get: async () => null,
  put: async () => {},
  close: async () => {},
};

async function main(): Promise<void> {
  if (options.version !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(options.version)) {
    throw new Error(`--version must be 1-64 characters of A-Z a-z 0-9 . _ -, got '${options.version}'`);
  }
  const paths = inputPaths();
  const { target, id } = options.dryRun ? { target: dryTarget, id: 'dry-run' } : await openTarget();
  const slug = createHash('sha256').update(id).digest('hex').slice(0, 12);
  const checkpointPath = options.checkpoint ? resolve(options.checkpoint) : join(resolve('.data', 'backfill'), `checkpoint-${options.remote ? 'remote' : 'local'}-${slug}.json`);
  const log = (line: string) => console.error(line);
  try {
    const result = await runBackfill(target, paths, {
      ...(options.version ? { version: options.version } : {}),
      batchSize: options.batch ?? (options.remote || options.dryRun ? KV_LIMITS.pairsPerRequest : 5_000),
      maxRequestBytes: options.maxRequestBytes,
      concurrency: options.concurrency ?? (options.remote ? 4 : 1),
      verifySample: options.verify,
      dryRun: options.dryRun,
      progress: process.stderr.isTTY && !options.json,
      checkpointPath,
      resume: options.resume,
      targetId: id,
      log,
    });
    const rate = Math.round(result.written / result.seconds);
    const mb = (result.bytes / 1e6).toFixed(1);
    if (options.dryRun) {
      console.log(`dry run: feature set ${result.active.version} would be ${result.written} keys (${result.users} users, ${result.items} items) in ${result.requests} requests, ${mb} MB of bulk JSON, largest value ${result.largestValue} bytes; computed in ${result.seconds.toFixed(1)} s = ${rate} keys/s; nothing sent`);
    } else {
      const resumed = result.resumed > 0 ? ` (resumed: ${result.resumed} keys were already acknowledged, ${result.sent} sent now)` : '';
      console.log(`${target.description}: feature set ${result.active.version} (${result.users} users, ${result.items} items), ${result.written} keys in ${result.requests} requests (${mb} MB) in ${result.seconds.toFixed(1)} s = ${rate} keys/s${resumed}; ${result.verified} read back; fs:active flipped`);
    }
    if (options.json) {
      console.log(
        JSON.stringify({
          version: result.active.version,
          keys: result.written,
          users: result.users,
          items: result.items,
          sent: result.sent,
          resumed: result.resumed,
          requests: result.requests,
          bytes: result.bytes,
          largest_value: result.largestValue,
          seconds: Math.round(result.seconds * 1000) / 1000,
          stats_seconds: Math.round(result.statsSeconds * 1000) / 1000,
          keys_per_second: rate,
          verified: result.verified,
          flipped: result.flipped,
          dry_run: options.dryRun,
          peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
          cpu_seconds: Math.round((process.cpuUsage().user + process.cpuUsage().system) / 1e4) / 100,
        }),
      );
    }
  } finally {
    await target.close();
  }
}

main().catch((error: unknown) => {
  console.error(`backfill failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
