// The deployable bundle, as `wrangler deploy --dry-run --outdir` writes it: what the bench, the
// soak, the simulator and the serving tests run with `wrangler dev --no-bundle` (so source edits
// made by others mid-run do not reload the worker under test), and what `npm run deploy` measures.
import { spawn } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/** Offline by design: no telemetry, and no fetch of Cloudflare's Request.cf sample. */
export const WRANGLER_ENV: NodeJS.ProcessEnv = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' };

export class BundleBuildError extends Error {
  constructor(
    readonly code: number | null,
    /** wrangler's stdout and stderr, interleaved */
    readonly output: string,
  ) {
    super(`wrangler deploy --dry-run failed (${code}):\n${output.slice(-2000)}`);
  }
}

export interface BuiltBundle {
  /** the entry module */
  script: string;
  /** wrangler's stdout and stderr */
  output: string;
}

/** Builds into `outdir` (emptied first); throws BundleBuildError when wrangler fails. */
export async function buildBundle(root: string, outdir: string, options: { args?: readonly string[]; env?: NodeJS.ProcessEnv } = {}): Promise<BuiltBundle> {
  await rm(outdir, { recursive: true, force: true });
  const child = spawn(join(root, 'node_modules', '.bin', 'wrangler'), ['deploy', '--dry-run', '--outdir', outdir, ...(options.args ?? [])], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? WRANGLER_ENV,
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new BundleBuildError(code, output);
  return { script: join(outdir, 'index.js'), output };
}

export interface BundleSize {
  raw: number;
  gzip: number;
}

/** What would be uploaded: every file of the build but source maps and wrangler's README, raw and gzipped (level 9). */
export async function measureBundle(outdir: string): Promise<BundleSize> {
  const size: BundleSize = { raw: 0, gzip: 0 };
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (!entry.name.endsWith('.map') && entry.name !== 'README.md') {
        const bytes = await readFile(path);
        size.raw += bytes.byteLength;
        size.gzip += gzipSync(bytes, { level: 9 }).byteLength;
      }
    }
  };
  await walk(outdir);
  return size;
}
