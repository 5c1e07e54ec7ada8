// npm start: the whole system on one machine. Fills the local KV from the shipped model's demo world
// when it holds no feature set, writes a ready-to-send 100-item request, then runs the worker on
// workerd (wrangler dev) at 127.0.0.1:8787 with the playground's samples on (PLAYGROUND_SAMPLES), and
// prints the curl and the playground's address once it answers.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { intArg } from '../model/commands/args.ts';
import { ACTIVE_KEY, parseActiveFeatureSet } from '../model/features/kv-layout.ts';
import { FEATURE_SET_SCHEMA } from '../model/features/records.ts';
import { backfillWorld } from './backfill/backfill-world.ts';
import { openLocalKv } from './backfill/kv-target.ts';
import { WRANGLER_ENV } from './bench/bundle.ts';
import { demoRequest } from './demo/demo-request.ts';
import { ensureDemoWorld } from './demo/demo-world.ts';

const program = new Command()
  .name('npm start --')
  .description('Fill the local KV from the demo world if it is empty, then serve the worker on workerd.')
  .option('--port <port>', 'port for wrangler dev', (v: string) => String(intArg(1, 65_535)(v)), '8787')
  .option('--refill', 'backfill the local KV again even if it holds a feature set', false)
  .option('--no-serve', 'only prepare the KV and the demo request')
  .parse();
const options = program.opts<{ port: string; refill: boolean; serve: boolean }>();

const root = resolve(import.meta.dirname, '..');
const dataDir = join(root, '.data');

async function prepareKv(worldDir: string): Promise<void> {
  const kv = await openLocalKv({ configPath: join(root, 'wrangler.toml') });
  try {
    const raw = await kv.get(ACTIVE_KEY);
    const active = raw ? parseActiveFeatureSet(JSON.parse(raw)) : null;
    if (active && active.schema === FEATURE_SET_SCHEMA && !options.refill) {
      console.log(`local KV already serves feature set ${active.version} (${active.users} users, ${active.items} items)`);
      return;
    }
    console.log(`filling ${kv.description} from ${worldDir} ...`);
    const result = await backfillWorld(kv, worldDir, { progress: process.stderr.isTTY });
    console.log(
      `feature set ${result.active.version}: ${result.written} keys in ${result.seconds.toFixed(1)} s (${Math.round(result.written / result.seconds)} keys/s), ${result.verified} verified, fs:active flipped`,
    );
  } finally {
    await kv.close();
  }
}

async function waitUntilServing(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.status < 500) return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

/**
 * Local secrets for wrangler dev: a fresh random EXPERIMENT_SALT in .dev.vars (git-ignored) the
 * first time, so the demo hashes user ids in its exposure log as production does, without any
 * secret in the repository. An existing .dev.vars is left as it is.
 */
async function ensureDevVars(): Promise<void> {
  const path = join(root, '.dev.vars');
  const exists = await access(path).then(() => true, () => false);
  if (exists) return;
  const salt = randomBytes(32).toString('hex');
  await writeFile(path, `# local secrets for wrangler dev (git-ignored), written by npm start; production: wrangler secret put\nEXPERIMENT_SALT=${salt}\n`, { mode: 0o600 });
  console.log(`wrote ${path} with a random EXPERIMENT_SALT (local only)`);
}

async function main(): Promise<void> {
  await ensureDevVars();
  const world = await ensureDemoWorld(root, dataDir);
  await prepareKv(world.dir);
  const requestPath = join(dataDir, 'demo-request.json');
  await mkdir(dataDir, { recursive: true });
  await writeFile(requestPath, JSON.stringify(await demoRequest(world.dir, 100), null, 1));
  const base = `http://127.0.0.1:${options.port}`;
  const curl = `curl -s ${base}/v1/rank -H 'content-type: application/json' --data @${requestPath}`;
  if (!options.serve) {
    console.log(`ready. Start the worker with \`npm start\`, then:\n  ${curl}`);
    return;
  }

  // Miniflare's local KV reads a cold 100-item slate in ~40 ms (production's edge cache is far
  // faster): a 1 s deadline keeps the demo's first request from falling back with kv_timeout.
  // Exposures go to the local KV sink (npm run read-exposures): Miniflare's local Queue stalls the
  // worker after a few large (500-item) rows (README, "Platform notes").
  const wrangler = spawn(join(root, 'node_modules', '.bin', 'wrangler'), ['dev', '--ip', '127.0.0.1', '--port', options.port, '--var', 'RANK_DEADLINE_MS:1000', '--var', 'PLAYGROUND_SAMPLES:on', '--var', 'EXPOSURE_SINK:kv'], {
    cwd: root,
    stdio: 'inherit',
    // Offline by design: no telemetry, and no fetch of Cloudflare's Request.cf sample (the worker does not read request.cf).
    env: WRANGLER_ENV,
  });
  const stop = (signal: NodeJS.Signals) => wrangler.kill(signal);
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  wrangler.on('exit', (code) => process.exit(code ?? 0));

  if (await waitUntilServing(`${base}/healthz`, 60_000)) {
    console.log(`\nedge-ranker is serving on ${base} (workerd, local KV, model ${world.modelId}). Re-rank a 100-item slate:\n\n  ${curl}\n`);
    console.log(`Playground (pick a user and a slate, switch the objective): ${base}/`);
    console.log(`Health: curl -s ${base}/healthz    Model: curl -s ${base}/v1/model    Stop: Ctrl-C\n`);
  } else {
    console.error(`the worker did not answer on ${base} within 60 s; see wrangler's output above`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
