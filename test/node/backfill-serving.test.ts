// Rank requests during a backfill (issue 6, part 4) see the old feature set or the new one, never a
// mix. The worker's deployable bundle runs under `wrangler dev` over a local KV that holds a live set
// (one world); the backfill CLI (local mode, a child process in its own process group) writes a new
// set from another world into that same KV, is killed with SIGKILL at a seeded random moment, and
// is run again to the end, while rank requests go on without pause. Every response must name the
// old or the new version in `feature_set` and carry exactly the scores that version gives that
// request (taken before the backfill for the old one, after it for the new one): a response built
// from a half-written set, or from records of both, would match neither.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createWorld, readItems, readUsers, Rng, worldSettings, writeWorld } from '../../model/world/index.ts';
import { backfillWorld, worldInputs } from '../../scripts/backfill/backfill-world.ts';
import { openLocalKv } from '../../scripts/backfill/kv-target.ts';
import { buildBundle } from '../../scripts/bench/bundle.ts';
import { startWranglerDev, stopWranglerDev, waitUntilReady, type DevServer } from '../../scripts/bench/wrangler-dev.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const OLD = 'fs-old';
const NEW = 'fs-new';
let dir: string;
let server: DevServer | undefined;

beforeAll(async () => {
  // Under the project, not /tmp: wrangler dev looks for wrangler.toml upwards from the bundle.
  await mkdir(join(ROOT, '.data'), { recursive: true });
  dir = await mkdtemp(join(ROOT, '.data', 'test-backfill-serving-'));
});

afterAll(async () => {
  if (server) await stopWranglerDev(server);
  await rm(dir, { recursive: true, force: true });
});

interface RankResponse {
  feature_set: string | null;
  fallback: string | null;
  items: Array<{ id: string; score: number; p_ctr: number; p_cvr: number }>;
}

async function rank(base: string, body: string): Promise<RankResponse> {
  const res = await fetch(`${base}/v1/rank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`/v1/rank answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as RankResponse;
}

/** What must not differ between two responses under one version: the order and every score. */
const scoresOf = (r: RankResponse) => JSON.stringify(r.items.map((i) => [i.id, i.score, i.p_ctr, i.p_cvr]));

function startBackfill(args: string[]): { child: ChildProcess; exit: Promise<number | null>; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/backfill.ts', ...args], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return { child, exit: new Promise((r) => child.once('exit', (code) => r(code))), output: () => output };
}

it('rank requests running during a killed and resumed backfill see the old set or the new one, never a mix', async () => {
  const oldWorld = join(dir, 'world-old');
  const newWorld = join(dir, 'world-new');
  await writeWorld(createWorld(worldSettings('tiny', { seed: 11 })), oldWorld);
  await writeWorld(createWorld(worldSettings('tiny')), newWorld);
  const state = join(dir, 'state');
  const [{ script }] = await Promise.all([
    buildBundle(ROOT, join(dir, 'dist')),
    (async () => {
      const kv = await openLocalKv({ configPath: join(ROOT, 'wrangler.toml'), persistPath: join(state, 'v3') });
      try {
        await backfillWorld(kv, oldWorld, { version: OLD });
      } finally {
        await kv.close();
      }
    })(),
  ]);

  // fs:active is read on every request (no 10 s trust), so a flip shows at once; no deadline
  // fallback on a loaded machine; no exposure log.
  server = await startWranglerDev({ root: ROOT, script, persistTo: state, log: join(dir, 'wrangler-dev.log'), vars: { FEATURE_SET_REFRESH_MS: '0', RANK_DEADLINE_MS: '20000', EXPOSURE_SINK: 'off' } });
  await waitUntilReady(server, '/healthz');
  const base = server.base;

  // Requests over ids both worlds have, with a fixed time (the hour is a feature).
  const users: string[] = [];
  for await (const u of readUsers(worldInputs(newWorld).users)) users.push(u.user_id);
  const items: string[] = [];
  for await (const i of readItems(worldInputs(newWorld).items)) items.push(i.item_id);
  const rng = Rng.stream(4, 'serving-bodies');
  const bodies = Array.from({ length: 6 }, (_, n) => {
    const ids = new Set<string>();
    while (ids.size < 30) ids.add(items[rng.int(items.length)]!);
    return JSON.stringify({ request_id: `during-${n}`, ...(n === 5 ? {} : { user_id: users[rng.int(users.length)] }), context: { device: n % 2 ? 'desktop' : 'mobile', page: 'search', time: '2026-11-27T12:00:00Z' }, items: [...ids].map((id) => ({ id })) });
  });
  const reference = new Map<string, string[]>();
  reference.set(OLD, []);
  for (const body of bodies) {
    const r = await rank(base, body);
    expect(r).toMatchObject({ feature_set: OLD, fallback: null });
    reference.get(OLD)!.push(scoresOf(r));
  }

  // Rank requests without pause (two at a time) for as long as the backfill runs.
  const seen: Array<{ body: number; response: RankResponse }> = [];
  let firing = true;
  const lanes = [0, 1].map(async (lane) => {
    for (let n = lane; firing; n += 2) {
      const body = n % bodies.length;
      seen.push({ body, response: await rank(base, bodies[body]!) });
      // a short pause: steady requests, without starving the backfill on a 2-core machine
      await new Promise((r) => setTimeout(r, 15));
    }
  });

  try {
    const checkpoint = join(dir, 'checkpoint.json');
    const args = ['--world', newWorld, '--persist-to', join(state, 'v3'), '--version', NEW, '--batch', '50', '--checkpoint', checkpoint, '--verify', '50', '--json'];
    // First run: killed (the whole process group: node and its workerd) at a seeded random moment
    // after its first batches are acknowledged.
    const first = startBackfill(args);
    let exited = false;
    void first.exit.then(() => (exited = true));
    const deadline = Date.now() + 60_000;
    const ackedBeforeKill = 50 * (1 + Rng.stream(6, 'serving-kill').int(2));
    for (;;) {
      const acked = await readFile(checkpoint, 'utf8').then((t) => (JSON.parse(t) as { pairs_acked: number }).pairs_acked, () => 0);
      if (acked >= ackedBeforeKill || exited || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(exited, first.output()).toBe(false);
    process.kill(-first.child.pid!, 'SIGKILL');
    await first.exit;
    const seenAtKill = seen.length;
    expect(seen.every((s) => s.response.feature_set === OLD)).toBe(true);

    // The rerun resumes from the checkpoint and finishes; requests keep going throughout.
    const second = startBackfill(args);
    expect(await second.exit, second.output()).toBe(0);
    const summary = JSON.parse(second.output().trim().split('\n').filter((l) => l.startsWith('{')).at(-1)!) as { version: string; resumed: number; sent: number; keys: number; flipped: boolean };
    expect(summary).toMatchObject({ version: NEW, flipped: true });
    expect(summary.resumed).toBeGreaterThan(0);
    expect(summary.sent).toBe(summary.keys - summary.resumed);
    expect(seen.length).toBeGreaterThan(seenAtKill);
  } finally {
    firing = false;
    await Promise.all(lanes);
  }

  reference.set(NEW, []);
  for (const body of bodies) {
    const r = await rank(base, body);
    expect(r).toMatchObject({ feature_set: NEW, fallback: null });
    reference.get(NEW)!.push(scoresOf(r));
  }
  // The two sets rank differently, so a response tells which set it came from.
  for (let b = 0; b < bodies.length; b++) expect(reference.get(NEW)![b]).not.toBe(reference.get(OLD)![b]);

  const counts: Record<string, number> = {};
  for (const { body, response } of seen) {
    expect(response.fallback).toBeNull();
    expect([OLD, NEW]).toContain(response.feature_set);
    expect(scoresOf(response)).toBe(reference.get(response.feature_set!)![body]);
    counts[response.feature_set!] = (counts[response.feature_set!] ?? 0) + 1;
  }
  expect(counts[OLD]).toBeGreaterThan(0);
  // Once a request saw the new set, none after it saw the old one (fs:active only moves forward).
  const firstNew = seen.findIndex((s) => s.response.feature_set === NEW);
  if (firstNew >= 0) for (const s of seen.slice(firstNew + 2)) expect(s.response.feature_set).toBe(NEW);
}, 150_000);
