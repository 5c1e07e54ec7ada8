// npm run read-exposures: exports the exposure log of a local worker (EXPOSURE_SINK=kv: `log:*`
// keys in the local FEATURES KV) as JSONL, one row per served slate (model/data/exposure-row.ts),
// in time order. Rows split for the queue are joined back.
import { createWriteStream } from 'node:fs';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { mergeExposureParts, type ExposureRow } from '../model/data/exposure-row.ts';
import { openLocalLog } from './exposures/local-log.ts';

const int = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be an integer >= 0`);
  return n;
};

const program = new Command()
  .name('npm run read-exposures --')
  .description('Export the local exposure log (log:* keys the worker wrote with EXPOSURE_SINK=kv) as JSONL.')
  .option('--persist-to <dir>', "the worker's state directory (wrangler dev --persist-to); default: .wrangler/state (npm start, wrangler dev)")
  .option('--out <file>', 'write JSONL here instead of stdout')
  .option('--request-prefix <prefix>', 'only rows whose request_id starts with this')
  .option('--since <ms>', 'only rows served at or after this epoch ms', int('--since'))
  .option('--delete', 'delete the exported rows from the local KV afterwards', false)
  .parse();
const options = program.opts<{ persistTo?: string; out?: string; requestPrefix?: string; since?: number; delete: boolean }>();

const root = resolve(import.meta.dirname, '..');

async function main(): Promise<void> {
  const log = await openLocalLog({ configPath: resolve(root, 'wrangler.toml'), persistPath: resolve(options.persistTo ?? resolve(root, '.wrangler', 'state'), 'v3') });
  const rows: ExposureRow[] = [];
  const keys: string[] = [];
  try {
    for await (const { key, text } of log.rows()) {
      const row = JSON.parse(text) as ExposureRow;
      if (options.requestPrefix && !row.request_id.startsWith(options.requestPrefix)) continue;
      if (options.since !== undefined && row.ts < options.since) continue;
      rows.push(row);
      keys.push(key);
    }
    const { rows: merged, incomplete } = mergeExposureParts(rows);
    const out = options.out ? createWriteStream(resolve(options.out)) : process.stdout;
    for (const row of merged) out.write(`${JSON.stringify(row)}\n`);
    if (options.out) await new Promise<void>((done, fail) => (out as ReturnType<typeof createWriteStream>).end((error?: Error | null) => (error ? fail(error) : done())));
    if (options.delete) await log.delete(keys);
    process.stderr.write(`${merged.length} exposure rows from ${log.description}${incomplete ? ` (${incomplete} split rows incomplete, left out)` : ''}${options.out ? ` -> ${options.out}` : ''}${options.delete ? `; ${keys.length} keys deleted` : ''}\n`);
  } finally {
    await log.close();
  }
}

main().catch((error: unknown) => {
  console.error(`read-exposures failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
