// The worker's start-up (its global scope: module evaluation, ORT's wasm backend and the model
// sessions it preloads) as `wrangler check startup` profiles it in workerd: the figure Cloudflare
// holds to its start-up limit (1 s of CPU) when a version is uploaded.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WRANGLER_ENV } from './bundle.ts';
import type { CpuProfile } from './inspector.ts';

/** Milliseconds of the start-up profile (first to last sample); wrangler builds the worker from source itself. */
export async function startupCpuMs(root: string): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'edge-ranker-startup-'));
  const outfile = join(dir, 'startup.cpuprofile');
  try {
    const child = spawn(join(root, 'node_modules', '.bin', 'wrangler'), ['check', 'startup', '--outfile', outfile], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: WRANGLER_ENV });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    if (code !== 0) throw new Error(`wrangler check startup failed (${code}):\n${output.slice(-2000)}`);
    const profile = JSON.parse(await readFile(outfile, 'utf8')) as CpuProfile;
    return (profile.endTime - profile.startTime) / 1000;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
