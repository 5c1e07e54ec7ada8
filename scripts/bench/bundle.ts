// The deployable bundle, as `wrangler deploy --dry-run --outdir` writes it: what the soak and the
// serving tests run with `wrangler dev --no-bundle`, so source edits made by others mid-run do not
// reload the worker under test.
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Builds into `outdir` (emptied first); returns the entry module's path. */
export async function buildBundle(root: string, outdir: string): Promise<string> {
  await rm(outdir, { recursive: true, force: true });
  const child = spawn(join(root, 'node_modules', '.bin', 'wrangler'), ['deploy', '--dry-run', '--outdir', outdir], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`wrangler deploy --dry-run failed (${code}):\n${output.slice(-2000)}`);
  return join(outdir, 'index.js');
}
