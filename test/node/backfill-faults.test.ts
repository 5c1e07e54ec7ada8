// Backfill faults (issue 6, part 4): the real backfill CLI, as a child process in a process group of
// its own, is killed with SIGKILL at seeded random moments over several rounds, against the fake
// Workers KV API that already holds a live feature set. After every kill: fs:active still names the
// old complete set (or the new one, only once it was complete), no key of the live set was written,
// the checkpoint is whole and every pair it lists is stored right. The rerun resumes the same version
// from the checkpoint (sending fewer keys than a fresh run) and finishes. In-process cases pin the
// guard that keeps a backfill out of the live version's keys.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ACTIVE_KEY, itemKey, userKey } from '../../model/features/kv-layout.ts';
import { FEATURE_SET_SCHEMA } from '../../model/features/records.ts';
import { createWorld, readItems, readUsers, Rng, worldSettings, writeWorld } from '../../model/world/index.ts';
import { runBackfill, worldInputs } from '../../scripts/backfill/backfill-world.ts';
import { Checkpoint, describeInput } from '../../scripts/backfill/checkpoint.ts';
import { openRemoteKv } from '../../scripts/backfill/cloudflare-kv.ts';
import { FakeKvApi } from '../../scripts/backfill/fake-kv-api.ts';
import { MemoryKvTarget } from '../../scripts/backfill/kv-target.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const TOKEN = 'test-token';
const ACCOUNT = 'acct';
const OLD = 'fs-old';
let dir: string;
let oldWorld: string;
let newWorld: string;
/** the new input's pairs under the version name 'ref' */
let reference: Map<string, string>;
let ordered: { items: string[]; users: string[] };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'backfill-faults-'));
  oldWorld = join(dir, 'world-old');
  newWorld = join(dir, 'world-new');
  // Two different worlds, so the old and the new set differ in every record's values.
  await writeWorld(createWorld(worldSettings('tiny', { seed: 11 })), oldWorld);
  await writeWorld(createWorld(worldSettings('tiny')), newWorld);
  const memory = new MemoryKvTarget();
  await runBackfill(memory, worldInputs(newWorld), { version: 'ref' });
  reference = memory.data;
  ordered = { items: [], users: [] };
  for await (const item of readItems(worldInputs(newWorld).items)) ordered.items.push(item.item_id);
  for await (const user of readUsers(worldInputs(newWorld).users)) ordered.users.push(user.user_id);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const total = () => ordered.items.length + ordered.users.length;

function expectedPairs(version: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const id of ordered.items) out.set(itemKey(version, id), reference.get(itemKey('ref', id))!);
  for (const id of ordered.users) out.set(userKey(version, id), reference.get(userKey('ref', id))!);
  return out;
}

function keysInOrder(version: string): string[] {
  return [...ordered.items.map((id) => itemKey(version, id)), ...ordered.users.map((id) => userKey(version, id))];
}

function versionPairs(api: FakeKvApi, ns: string, version: string): Map<string, string> {
  return new Map([...api.store(ns)].filter(([key]) => key.startsWith(`fs:${version}:`)));
}

/** Versions that have keys in the namespace. */
function versionsIn(api: FakeKvApi, ns: string): Set<string> {
  const out = new Set<string>();
  for (const key of api.store(ns).keys()) if (key !== ACTIVE_KEY) out.add(key.split(':')[1]!);
  return out;
}

interface CheckpointFile {
  version: string;
  acked: [number, number][];
  pairs_acked: number;
}

async function readCheckpoint(path: string): Promise<CheckpointFile | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as CheckpointFile;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error; // a torn checkpoint fails the test here
  }
}

/** Starts the CLI with setsid (detached), so a kill reaches it and anything it spawned. */
function startCli(args: string[]): { child: ChildProcess; exit: Promise<number | null>; stdout: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/backfill.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, CLOUDFLARE_API_TOKEN: TOKEN },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.resume();
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, exit, stdout: () => out };
}

function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('backfill killed at random moments', () => {
  it('resumes after every kill; fs:active never names a partial set and the live set is never written', async () => {
    const api = new FakeKvApi({ token: TOKEN, writeDelayMs: 40 });
    const base = await api.start();
    const ns = 'ns-faults';
    try {
      // The live set: the old world, published by the backfill itself (in-process, no faults).
      const live = openRemoteKv({ token: TOKEN, accountId: ACCOUNT, namespaceId: ns, apiBase: base });
      await runBackfill(live, worldInputs(oldWorld), { version: OLD, batchSize: 500 });
      await live.close();
      const oldPairs = versionPairs(api, ns, OLD);
      const oldCounts = new Map([...api.writeCounts(ns)].filter(([key]) => key.startsWith(`fs:${OLD}:`)));
      const oldActive = api.store(ns).get(ACTIVE_KEY)!;
      expect(oldPairs.size).toBeGreaterThan(0);
      expect(JSON.parse(oldActive).version).toBe(OLD);
      const snapshotsBefore = api.activeSnapshots.length;

      const checkpointPath = join(dir, 'cp-faults.json');
      const args = ['--world', newWorld, '--remote', '--account-id', ACCOUNT, '--namespace-id', ns, '--api-base', base, '--batch', '20', '--concurrency', '2', '--verify', '50', '--checkpoint', checkpointPath, '--json'];
      const batches = Math.ceil(total() / 20);
      const rng = Rng.stream(6, 'backfill-kill');
      let version: string | undefined;
      const rounds: { killAfterWrites: number | null; delayMs: number; acked: number }[] = [];

      // Several rounds, each killed at a seeded random moment: during start-up (before any write)
      // or after a random number of further acknowledged writes. One round is forced to land after
      // at least two writes, so the final run has something to resume.
      for (let round = 0; round < 4; round++) {
        const startup = round !== 1 && rng.bernoulli(0.25);
        const killAfterWrites = startup ? null : api.stats.accepted + 2 + rng.int(Math.max(1, Math.floor(batches / 4)));
        const delayMs = startup ? rng.int(1500) : 0;
        const run = startCli(args);
        let exited = false;
        void run.exit.then(() => (exited = true));
        const started = Date.now();
        while (!exited && Date.now() - started < 45_000) {
          if (killAfterWrites === null ? Date.now() - started >= delayMs : api.stats.accepted >= killAfterWrites) break;
          await sleep(5);
        }
        killGroup(run.child);
        await run.exit;

        // fs:active: the old set, byte for byte, or a new one that was complete when written.
        const active = api.store(ns).get(ACTIVE_KEY)!;
        for (const snapshot of api.activeSnapshots.slice(snapshotsBefore)) expect(snapshot.versionKeys).toBe(total());
        if (active !== oldActive) expect(api.activeSnapshots.length).toBeGreaterThan(snapshotsBefore);
        // The live set: every key still there with its bytes, none written again.
        expect(versionPairs(api, ns, OLD)).toEqual(oldPairs);
        for (const [key, count] of api.writeCounts(ns)) if (key.startsWith(`fs:${OLD}:`)) expect({ key, count }).toEqual({ key, count: oldCounts.get(key) });
        // The checkpoint is whole, always names the same version, and what it lists is stored right.
        const checkpoint = await readCheckpoint(checkpointPath);
        if (checkpoint) {
          version ??= checkpoint.version;
          expect(checkpoint.version).toBe(version);
          expect(checkpoint.version).not.toBe(OLD);
          const expected = expectedPairs(checkpoint.version);
          const order = keysInOrder(checkpoint.version);
          for (const [s, e] of checkpoint.acked) for (const key of order.slice(s, e)) expect(api.store(ns).get(key)).toBe(expected.get(key));
        }
        // Only the old version and the one being resumed have keys; whatever is stored is right.
        for (const v of versionsIn(api, ns)) expect([OLD, version]).toContain(v);
        if (version) for (const [key, value] of versionPairs(api, ns, version)) expect(value).toBe(expectedPairs(version).get(key));
        rounds.push({ killAfterWrites, delayMs, acked: checkpoint?.pairs_acked ?? 0 });
      }
      const before = await readCheckpoint(checkpointPath);
      expect(before, `rounds: ${JSON.stringify(rounds)}`).toBeDefined();
      expect(before!.pairs_acked).toBeGreaterThan(0);
      expect(JSON.parse(api.store(ns).get(ACTIVE_KEY)!).version).toBe(OLD);

      // The rerun: same command, runs to the end, resumes the same version, sends only the rest.
      const final = startCli(args);
      const code = await final.exit;
      expect(code).toBe(0);
      const summary = JSON.parse(final.stdout().trim().split('\n').at(-1)!) as { version: string; resumed: number; sent: number; keys: number; flipped: boolean };
      expect(summary).toMatchObject({ version: before!.version, keys: total(), flipped: true });
      expect(summary.resumed).toBe(before!.pairs_acked);
      expect(summary.sent).toBe(total() - before!.pairs_acked);
      expect(summary.sent).toBeLessThan(total());
      expect(versionPairs(api, ns, summary.version)).toEqual(expectedPairs(summary.version));
      expect(JSON.parse(api.store(ns).get(ACTIVE_KEY)!).version).toBe(summary.version);
      expect(api.activeSnapshots.length).toBe(snapshotsBefore + 1);
      expect(api.activeSnapshots.at(-1)!.versionKeys).toBe(total());
      expect(versionPairs(api, ns, OLD)).toEqual(oldPairs);
      expect(versionsIn(api, ns)).toEqual(new Set([OLD, summary.version]));
      await expect(readFile(checkpointPath)).rejects.toThrow(/ENOENT/);
    } finally {
      await api.stop();
    }
  }, 120_000);
});

describe('the live version is never written', () => {
  it('refuses a version that fs:active names, before sending anything', async () => {
    const kv = new MemoryKvTarget();
    await runBackfill(kv, worldInputs(oldWorld), { version: OLD });
    const before = new Map(kv.data);
    const requests = kv.requests;
    await expect(runBackfill(kv, worldInputs(newWorld), { version: OLD })).rejects.toThrow(/fs-old is live .* never rewrites the live set's keys/);
    expect(kv.requests).toBe(requests);
    expect(kv.data).toEqual(before);
  });

  it('gives a default version name another name when it equals the live one', async () => {
    // A frozen clock: the live set carries the very name the next default would get (same second).
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-11-27T18:30:00.250Z') });
    try {
      const kv = new MemoryKvTarget();
      await runBackfill(kv, worldInputs(oldWorld));
      const live = JSON.parse(kv.data.get(ACTIVE_KEY)!).version as string;
      expect(live).toBe('fs-20261127T183000Z');
      const before = new Map(kv.data);
      const result = await runBackfill(kv, worldInputs(newWorld));
      expect(result.active.version).toBe('fs-20261127T183000Z-2');
      for (const [key, value] of before) if (key !== ACTIVE_KEY) expect(kv.data.get(key)).toBe(value);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a run killed after its flip but before removing its checkpoint finishes on rerun without rewriting anything', async () => {
    const kv = new MemoryKvTarget();
    const checkpointPath = join(dir, 'cp-flipped.json');
    await runBackfill(kv, worldInputs(newWorld), { checkpointPath, targetId: 'memory-flipped', batchSize: 100 });
    // As if killed between the flip and the checkpoint's removal: put a complete checkpoint back.
    const version = JSON.parse(kv.data.get(ACTIVE_KEY)!).version as string;
    const { checkpoint } = await Checkpoint.open(checkpointPath, await identityOf(newWorld, 'memory-flipped'), { version, newVersion: () => 'unused', resume: true });
    await checkpoint.ack([[0, total()]]);
    await checkpoint.flush();
    const before = new Map(kv.data);
    const requests = kv.requests;
    const rerun = await runBackfill(kv, worldInputs(newWorld), { checkpointPath, targetId: 'memory-flipped', batchSize: 100 });
    expect(rerun).toMatchObject({ sent: 0, resumed: total(), flipped: true });
    expect(rerun.active.version).toBe(version);
    // Only fs:active was written again (same version, new written_at).
    expect(kv.requests).toBe(requests);
    for (const [key, value] of before) if (key !== ACTIVE_KEY) expect(kv.data.get(key)).toBe(value);
    await expect(readFile(checkpointPath)).rejects.toThrow(/ENOENT/);
    await writeFile(checkpointPath, ''); // an unreadable checkpoint starts afresh, never resumes
    const fresh = await runBackfill(kv, worldInputs(newWorld), { checkpointPath, targetId: 'memory-flipped', batchSize: 100 });
    expect(fresh.active.version).not.toBe(version);
  });
});

/** The checkpoint identity runBackfill builds for a world and a target id. */
async function identityOf(world: string, target: string) {
  const paths = worldInputs(world);
  return {
    inputs: [await describeInput('users', paths.users), await describeInput('items', paths.items), await describeInput('impressions', paths.impressions)],
    target,
    schema: FEATURE_SET_SCHEMA,
  };
}
