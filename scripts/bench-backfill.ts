// npm run bench:backfill [-- --json] : the remote backfill at catalog scale. Generates (or reuses under
// .data/worlds/) a synthetic world of 1M users and 1M items, starts the fake Workers KV API on
// loopback in its own process, runs the backfill CLI against it as a child process (read, compute,
// encode, batch, send, verify, flip), and prints keys/s, seconds and the backfill's peak RSS beside
// the 50,000 keys/s target. With --json the last line is one JSON object.
//   --local-demo  also measure the local (Miniflare) mode on the demo world, into a temporary state dir
// The machine is shared: the load average and the backfill's CPU seconds are printed with the result.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { intArg, numberArg } from '../model/commands/args.ts';
import { tsxScript } from './cli/npm-scripts.ts';
import { createWorld, worldSettings, writeWorld } from '../model/world/index.ts';

const TARGET = 50_000;
const root = resolve(import.meta.dirname, '..');
const BACKFILL = tsxScript(root, 'backfill');

const options = new Command()
  .name('npm run bench:backfill --')
  .description('Benchmark the remote backfill (2M keys) against the fake Workers KV API on loopback.')
  .option('--users <n>', 'users in the world', intArg(1, 100_000_000), 1_000_000)
  .option('--items <n>', 'items in the world', intArg(1, 100_000_000), 1_000_000)
  .option('--impressions <n>', 'rows of the impression log', intArg(1, 1_000_000_000), 2_000_000)
  .option('--world <dir>', 'use this world directory instead of generating one')
  .option('--concurrency <n>', 'requests in flight', intArg(1, 64), 4)
  .option('--rate-429 <p>', 'fraction of writes the fake answers 429 (Retry-After 1 s)', numberArg(0, 1), 0.01)
  .option('--rate-drop <p>', 'fraction of writes whose connection the fake drops', numberArg(0, 1), 0.01)
  .option('--local-demo', 'also measure the local Miniflare mode on the demo world', false)
  .option('--json', 'end with one JSON line', false)
  .parse()
  .opts<{ users: number; items: number; impressions: number; world?: string; concurrency: number; rate429: number; rateDrop: number; localDemo: boolean; json: boolean }>();

const say = (line: string) => console.error(line);

async function ensureWorld(): Promise<string> {
  if (options.world) return resolve(options.world);
  const name = `bench-u${options.users}-i${options.items}-n${options.impressions}`;
  const dir = join(root, '.data', 'worlds', name);
  if (existsSync(join(dir, 'world.json'))) {
    say(`world: reusing ${dir}`);
    return dir;
  }
  say(`world: generating ${name} (takes a minute or two; reused next time) ...`);
  const started = performance.now();
  await writeWorld(createWorld(worldSettings('demo', { name, users: options.users, items: options.items, impressions: options.impressions })), dir);
  say(`world: ${dir} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return dir;
}

/** Node with tsx, as `npx tsx` runs it; the backfill with the node flags `npm run backfill` gives it (package.json). */
function tsxNode(args: string[], env: NodeJS.ProcessEnv, detached = false): ChildProcess {
  const flags = args[0] === BACKFILL.file ? BACKFILL.nodeFlags : [];
  return spawn(process.execPath, [...flags, '--import', 'tsx', ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'], detached });
}

async function firstLine(child: ChildProcess): Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) return line;
  throw new Error('the child process ended without output');
}

async function runToEnd(child: ChildProcess): Promise<string[]> {
  const out: string[] = [];
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) out.push(line);
  const code = await new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', r)));
  if (code !== 0) throw new Error(`backfill exited with ${code}: ${out.slice(-3).join('\n')}`);
  return out;
}

interface Summary {
  keys: number;
  seconds: number;
  keys_per_second: number;
  peak_rss_mb: number;
  cpu_seconds: number;
  stats_seconds: number;
  requests: number;
  bytes: number;
}

async function main(): Promise<void> {
  const worldDir = await ensureWorld();
  const token = `bench-${process.pid}`;
  const env = { ...process.env, CLOUDFLARE_API_TOKEN: token };
  // The fake API in its own process group (setsid), stopped by group at the end.
  const fake = tsxNode(['scripts/backfill/fake-kv-api.ts', '--rate-429', String(options.rate429), '--retry-after', '1', '--rate-drop', String(options.rateDrop)], env, true);
  const scratch = await mkdtemp(join(tmpdir(), 'bench-backfill-'));
  try {
    const { api_base: apiBase } = JSON.parse(await firstLine(fake)) as { api_base: string };
    say(`fake Workers KV API on ${apiBase} (429 rate ${options.rate429}, drop rate ${options.rateDrop})`);
    const load = loadavg()[0]!;
    const backfill = tsxNode(
      [BACKFILL.file, '--world', worldDir, '--remote', '--account-id', 'bench', '--namespace-id', `bench-${Date.now()}`, '--api-base', apiBase, '--concurrency', String(options.concurrency), '--checkpoint', join(scratch, 'checkpoint.json'), '--json'],
      env,
    );
    const out = await runToEnd(backfill);
    const result = JSON.parse(out[out.length - 1]!) as Summary;
    const stats = (await (await fetch(new URL('/__fake/stats', apiBase))).json()) as { stats: Record<string, number>; cpu_seconds: number };
    const verdict = result.keys_per_second >= TARGET ? 'meets' : 'below';
    console.log(`backfill -> fake KV API: ${result.keys.toLocaleString('en-US')} keys in ${result.seconds.toFixed(1)} s = ${result.keys_per_second.toLocaleString('en-US')} keys/s (${verdict} the ${TARGET.toLocaleString('en-US')} keys/s target)`);
    console.log(`  peak RSS ${result.peak_rss_mb} MB, ${result.cpu_seconds} s of CPU, statistics ${result.stats_seconds.toFixed(1)} s, ${result.requests} requests, ${(result.bytes / 1e6).toFixed(0)} MB of bulk JSON`);
    // The fake runs on the same cores: its CPU is time the backfill could not use on a 2-core machine.
    console.log(`  fake API: ${stats.stats.writeRequests} write requests, ${stats.stats.throttled} answered 429, ${stats.stats.dropped} dropped, ${stats.cpu_seconds} s of CPU; load average at start ${load.toFixed(1)}, at end ${loadavg()[0]!.toFixed(1)} on ${(await import('node:os')).cpus().length} cores`);

    if (options.localDemo) {
      const demo = join(root, '.data', 'worlds', 'demo-seed1-200000');
      if (!existsSync(join(demo, 'world.json'))) say(`local demo: ${demo} is missing (npm start generates it); skipped`);
      else {
        const local = tsxNode([BACKFILL.file, '--world', demo, '--persist-to', join(scratch, 'state'), '--checkpoint', join(scratch, 'local.json'), '--json'], env);
        const localOut = await runToEnd(local);
        const r = JSON.parse(localOut[localOut.length - 1]!) as Summary;
        const sendSeconds = r.seconds - r.stats_seconds;
        console.log(`local Miniflare KV, demo world: ${r.keys} keys in ${r.seconds.toFixed(1)} s (${sendSeconds.toFixed(1)} s writing = ${Math.round(r.keys / sendSeconds)} keys/s)`);
      }
    }
    if (options.json) {
      console.log(JSON.stringify({ keys: result.keys, seconds: result.seconds, keys_per_second: result.keys_per_second, peak_rss_mb: result.peak_rss_mb, cpu_seconds: result.cpu_seconds, fake_api_cpu_seconds: stats.cpu_seconds, load_average: load, target_keys_per_second: TARGET }));
    }
  } finally {
    if (fake.pid !== undefined && fake.exitCode === null) {
      try {
        process.kill(-fake.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    await rm(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
