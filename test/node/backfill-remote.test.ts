// The remote backfill against the fake Workers KV API (the project's one stand-in, on loopback):
// every key arrives exactly once through 429s, dropped connections and partial failures; Retry-After
// is honoured; the API contract is enforced; oversize values and a missing token are clear errors;
// a run killed mid-way resumes from its checkpoint without rewriting acknowledged batches; and
// fs:active only ever points at a complete set.
import { FEATURE_SET_SCHEMA } from '../../model/features/records.ts';
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTIVE_KEY, itemKey, userKey } from '../../model/features/kv-layout.ts';
import { createWorld, readItems, readUsers, worldSettings, writeWorld } from '../../model/world/index.ts';
import { runBackfill, worldInputs } from '../../scripts/backfill/backfill-world.ts';
import { openRemoteKv, type RetryInfo } from '../../scripts/backfill/cloudflare-kv.ts';
import { FakeKvApi } from '../../scripts/backfill/fake-kv-api.ts';
import { MemoryKvTarget } from '../../scripts/backfill/kv-target.ts';
import { KvLimitError } from '../../scripts/backfill/publish.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const TOKEN = 'test-token';
const ACCOUNT = 'acct';
let dir: string;
let world: string;
let reference: Map<string, string>;
let ordered: { items: string[]; users: string[] };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'backfill-remote-'));
  world = join(dir, 'world');
  await writeWorld(createWorld(worldSettings('tiny')), world);
  const memory = new MemoryKvTarget();
  await runBackfill(memory, worldInputs(world), { version: 'ref' });
  reference = memory.data;
  const ids = { items: [] as string[], users: [] as string[] };
  for await (const item of readItems(worldInputs(world).items)) ids.items.push(item.item_id);
  for await (const user of readUsers(worldInputs(world).users)) ids.users.push(user.user_id);
  ordered = ids;
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The pairs a version should hold, from the in-memory reference run. */
function expectedPairs(version: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const id of ordered.items) out.set(itemKey(version, id), reference.get(itemKey('ref', id))!);
  for (const id of ordered.users) out.set(userKey(version, id), reference.get(userKey('ref', id))!);
  return out;
}

function versionPairs(api: FakeKvApi, ns: string, version: string): Map<string, string> {
  return new Map([...api.store(ns)].filter(([key]) => key.startsWith(`fs:${version}:`)));
}

async function withFake<T>(options: Partial<ConstructorParameters<typeof FakeKvApi>[0]>, run: (api: FakeKvApi, base: string) => Promise<T>): Promise<T> {
  const api = new FakeKvApi({ token: TOKEN, ...options });
  const base = await api.start();
  try {
    return await run(api, base);
  } finally {
    await api.stop();
  }
}

const noSleep = async () => {};

describe('remote backfill against the fake Workers KV API', () => {
  it('stores every key exactly once through 429s, dropped connections and partial failures', async () => {
    await withFake({ rate429: 0.15, retryAfterSeconds: 0, rateDrop: 0.15, ratePartial: 0.15, seed: 7 }, async (api, base) => {
      const retries: RetryInfo[] = [];
      const target = openRemoteKv({ token: TOKEN, accountId: ACCOUNT, namespaceId: 'ns1', apiBase: base, maxRetries: 20, sleep: noSleep, onRetry: (r) => retries.push(r) });
      const result = await runBackfill(target, worldInputs(world), { version: 'v1', batchSize: 10, concurrency: 4, verifySample: 100 });
      expect(result.flipped).toBe(true);
      expect(versionPairs(api, 'ns1', 'v1')).toEqual(expectedPairs('v1'));
      for (const [key, count] of api.writeCounts('ns1')) expect({ key, count }).toEqual({ key, count: 1 });
      expect(api.stats.throttled).toBeGreaterThan(0);
      expect(api.stats.dropped).toBeGreaterThan(0);
      expect(api.stats.partial).toBeGreaterThan(0);
      expect(retries.length).toBe(api.stats.throttled + api.stats.dropped + api.stats.partial);
      expect(target.stats.networkErrors).toBe(api.stats.dropped);
      // fs:active was written once, after the whole version was stored.
      expect(api.activeSnapshots).toHaveLength(1);
      expect(api.activeSnapshots[0]!.versionKeys).toBe(ordered.items.length + ordered.users.length);
      expect(JSON.parse(api.store('ns1').get(ACTIVE_KEY)!)).toMatchObject({ version: 'v1', users: ordered.users.length, items: ordered.items.length });
    });
  });

  it('waits at least Retry-After before retrying a 429', async () => {
    await withFake({ rate429: 0.5, retryAfterSeconds: 7, seed: 3 }, async (api, base) => {
      const waits: { reason: string; delayMs: number }[] = [];
      const target = openRemoteKv({ token: TOKEN, accountId: ACCOUNT, namespaceId: 'ns2', apiBase: base, maxRetries: 30, sleep: noSleep, onRetry: (r) => waits.push(r) });
      await runBackfill(target, worldInputs(world), { version: 'v2', batchSize: 50, concurrency: 2 });
      const throttled = waits.filter((w) => w.reason.startsWith('429'));
      expect(throttled.length).toBe(api.stats.throttled);
      expect(throttled.length).toBeGreaterThan(0);
      for (const wait of throttled) expect(wait.delayMs).toBeGreaterThanOrEqual(7000);
    });
  });

  it('backs off exponentially with jitter on 5xx and gives up with a clear error', async () => {
    await withFake({ rate5xx: 1 }, async (_api, base) => {
      const delays: number[] = [];
      const target = openRemoteKv({ token: TOKEN, accountId: ACCOUNT, namespaceId: 'ns3', apiBase: base, maxRetries: 4, baseBackoffMs: 100, random: () => 0.5, sleep: async (ms) => void delays.push(ms) });
      await expect(target.put('k', 'v')).rejects.toThrow(/failed after 5 attempts; last: 503 \[10013\] Service temporarily unavailable/);
      expect(delays).toEqual([50, 100, 200, 400]);
    });
  });

  it('enforces the documented contract with 4xx in the Cloudflare error envelope', async () => {
    await withFake({}, async (api, base) => {
      const url = `${base}/accounts/${ACCOUNT}/storage/kv/namespaces/ns4/bulk`;
      const put = (body: unknown, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }) =>
        fetch(url, { method: 'PUT', headers, body: JSON.stringify(body) }).then(async (res) => ({ status: res.status, body: (await res.json()) as { success: boolean; errors: { code: number; message: string }[] } }));
      const ok = await put([{ key: 'a', value: 'b' }]);
      expect(ok).toEqual({ status: 200, body: expect.objectContaining({ success: true, result: { successful_key_count: 1, unsuccessful_keys: [] } }) });

      const cases: [unknown, Record<string, string> | undefined, number, RegExp][] = [
        [[{ key: 'a', value: 'b' }], { 'content-type': 'application/json' }, 400, /Authorization/],
        [[{ key: 'a', value: 'b' }], { authorization: 'Bearer wrong', 'content-type': 'application/json' }, 403, /Authentication error/],
        [[{ key: 'a', value: 'b' }], { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain' }, 400, /Content-Type/],
        [{ key: 'a', value: 'b' }, undefined, 400, /JSON array/],
        [Array.from({ length: 10_001 }, (_, i) => ({ key: `k${i}`, value: 'v' })), undefined, 400, /at most 10000/],
        [[{ key: 'x'.repeat(513), value: 'v' }], undefined, 414, /at most 512 bytes/],
        [[{ key: '..', value: 'v' }], undefined, 400, /not a valid key/],
        [[{ key: 'a', value: 5 }], undefined, 400, /value: must be a string/],
        [[{ key: 'big', value: 'x'.repeat(25 * 1024 * 1024 + 1) }], undefined, 413, /values are at most 26214400 bytes/],
      ];
      for (const [body, headers, status, message] of cases) {
        const res = await put(body, headers);
        expect(res.status).toBe(status);
        expect(res.body.success).toBe(false);
        expect(res.body.errors[0]!.message).toMatch(message);
        expect(typeof res.body.errors[0]!.code).toBe('number');
      }
      // A request that declares more than 100 MB is refused before its body is read.
      const status = await new Promise<number>((resolveStatus, reject) => {
        const req = request(url, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'content-length': '100000001' } }, (res) => {
          res.resume();
          resolveStatus(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.write('[');
      });
      expect(status).toBe(413);
      // Nothing from the rejected requests was stored.
      expect([...api.store('ns4').keys()]).toEqual(['a']);
    });
  });

  it('rejects an oversize value before sending anything, naming the key and the limit', async () => {
    await withFake({}, async (api, base) => {
      const users = (await readFile(worldInputs(world).users, 'utf8')).trim().split('\n').slice(1);
      const rows = users.map((line) => {
        const [user_id, segment, loyalty_tier, tenure_days] = line.split(',');
        return { user_id, segment, loyalty_tier, tenure_days: Number(tenure_days) };
      });
      rows[5]!.loyalty_tier = 'x'.repeat(25 * 1024 * 1024);
      const path = join(dir, 'users-oversize.jsonl');
      await writeFile(path, rows.map((r) => JSON.stringify(r)).join('\n'));
      const target = openRemoteKv({ token: TOKEN, accountId: ACCOUNT, namespaceId: 'ns5', apiBase: base });
      const run = runBackfill(target, { ...worldInputs(world), users: path }, { version: 'v5' });
      await expect(run).rejects.toThrow(KvLimitError);
      await expect(run).rejects.toThrow(new RegExp(`value of fs:v5:u:${rows[5]!.user_id} \\(user ${rows[5]!.user_id}\\) is 26,214,[0-9]{3} bytes; Workers KV values are at most 26,214,400 bytes`));
      expect(api.stats.writeRequests).toBe(0);
      expect(api.store('ns5').size).toBe(0);
    });
  });

  it('needs a token from the environment', () => {
    expect(() => openRemoteKv({ token: '', accountId: ACCOUNT, namespaceId: 'ns' })).toThrow(/CLOUDFLARE_API_TOKEN is not set/);
  });

  it('resumes only a checkpoint of the same input and target', async () => {
    await withFake({}, async (api, base) => {
      const checkpointPath = join(dir, 'cp-identity.json');
      const remote = () => openRemoteKv({ token: TOKEN, accountId: ACCOUNT, namespaceId: 'ns6', apiBase: base });
      // An interrupted run over the original input: the third request fails for good.
      const failing = remote();
      let calls = 0;
      const putBatch = failing.putBatch;
      failing.putBatch = async (batch) => {
        if (++calls === 3) throw new Error('network gone');
        return putBatch(batch);
      };
      await expect(runBackfill(failing, worldInputs(world), { checkpointPath, targetId: 'fake:ns6', batchSize: 100, concurrency: 1 })).rejects.toThrow('network gone');
      const interrupted = JSON.parse(await readFile(checkpointPath, 'utf8')) as { version: string; pairs_acked: number };
      expect(interrupted.pairs_acked).toBe(200);

      // Another input (one item's rating changed) never resumes it: a new version from scratch.
      const changed = join(dir, 'world-changed');
      await cp(world, changed, { recursive: true });
      const itemsCsv = await readFile(join(changed, 'items.csv'), 'utf8');
      await writeFile(join(changed, 'items.csv'), itemsCsv.replace(/^(i\d+,[^,]+,[^,]+,[^,]+,)([\d.]+)/m, (_m, head: string) => `${head}1.1`));
      await cp(checkpointPath, join(dir, 'cp-identity-copy.json'));
      const lines2: string[] = [];
      const fresh = await runBackfill(remote(), worldInputs(changed), { checkpointPath: join(dir, 'cp-identity-copy.json'), targetId: 'fake:ns6', log: (l) => lines2.push(l) });
      expect(fresh.resumed).toBe(0);
      expect(fresh.active.version).not.toBe(interrupted.version);
      expect(lines2.join('\n')).toMatch(/starting afresh .*different input/);

      // The same input on another target does not resume it either.
      await cp(checkpointPath, join(dir, 'cp-identity-copy2.json'));
      const elsewhere = await runBackfill(new MemoryKvTarget(), worldInputs(world), { checkpointPath: join(dir, 'cp-identity-copy2.json'), targetId: 'memory' });
      expect(elsewhere.resumed).toBe(0);
      expect(elsewhere.active.version).not.toBe(interrupted.version);

      // The original input and target resume it: same version, the 200 acknowledged pairs skipped.
      const resumed = await runBackfill(remote(), worldInputs(world), { checkpointPath, targetId: 'fake:ns6', batchSize: 100, concurrency: 1 });
      expect(resumed.active.version).toBe(interrupted.version);
      expect(resumed.resumed).toBe(200);
      expect(resumed.sent).toBe(ordered.items.length + ordered.users.length - 200);
      expect(versionPairs(api, 'ns6', interrupted.version)).toEqual(expectedPairs(interrupted.version));
      for (const [key, count] of api.writeCounts('ns6')) if (key.startsWith(`fs:${interrupted.version}:`)) expect({ key, count }).toEqual({ key, count: 1 });
    });
  });

  it('resumes a killed run from its checkpoint without rewriting acknowledged batches; fs:active never points at a partial set', async () => {
    await withFake({ writeDelayMs: 150 }, async (api, base) => {
      const ns = 'ns7';
      api.seed(ns, ACTIVE_KEY, JSON.stringify({ version: 'previous', schema: FEATURE_SET_SCHEMA, written_at: '', users: 0, items: 0 }));
      const checkpointPath = join(dir, 'cp-kill.json');
      const args = ['--import', 'tsx', 'scripts/backfill.ts', '--world', world, '--remote', '--account-id', ACCOUNT, '--namespace-id', ns, '--api-base', base, '--batch', '25', '--concurrency', '2', '--checkpoint', checkpointPath, '--json'];
      const env = { ...process.env, CLOUDFLARE_API_TOKEN: TOKEN };

      // First run: killed (SIGKILL, no chance to clean up) once a few batches are acknowledged.
      const first = spawn(process.execPath, args, { cwd: ROOT, env, stdio: 'ignore' });
      const exited = new Promise<void>((r) => first.once('exit', () => r()));
      const deadline = Date.now() + 45_000;
      while (api.stats.accepted < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(api.stats.accepted).toBeGreaterThanOrEqual(6);
      first.kill('SIGKILL');
      await exited;

      const checkpoint = JSON.parse(await readFile(checkpointPath, 'utf8')) as { version: string; acked: [number, number][]; pairs_acked: number };
      const total = ordered.items.length + ordered.users.length;
      expect(checkpoint.pairs_acked).toBeGreaterThan(0);
      expect(checkpoint.pairs_acked).toBeLessThan(total);
      // Readers still see the previous set: fs:active was not touched.
      expect(JSON.parse(api.store(ns).get(ACTIVE_KEY)!).version).toBe('previous');
      const keysInOrder = [...ordered.items.map((id) => itemKey(checkpoint.version, id)), ...ordered.users.map((id) => userKey(checkpoint.version, id))];
      const acknowledged = checkpoint.acked.flatMap(([s, e]) => keysInOrder.slice(s, e));
      for (const key of acknowledged) expect(api.writeCounts(ns).get(key)).toBe(1);

      // Second run: same command; resumes the same version and sends only what was not acknowledged.
      const second = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      second.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((r) => second.once('exit', r));
      expect(code).toBe(0);
      const summary = JSON.parse(out.trim().split('\n').at(-1)!) as { version: string; resumed: number; sent: number; keys: number; flipped: boolean };
      expect(summary).toMatchObject({ version: checkpoint.version, keys: total, flipped: true });
      expect(summary.resumed).toBe(checkpoint.pairs_acked);
      expect(summary.sent).toBe(total - checkpoint.pairs_acked);
      for (const key of acknowledged) expect(api.writeCounts(ns).get(key)).toBe(1);
      expect(versionPairs(api, ns, checkpoint.version)).toEqual(expectedPairs(checkpoint.version));
      // Every fs:active write named a complete version (the seeded one is not a write).
      expect(api.activeSnapshots).toHaveLength(1);
      expect(api.activeSnapshots[0]!.versionKeys).toBe(total);
      expect(JSON.parse(api.store(ns).get(ACTIVE_KEY)!).version).toBe(checkpoint.version);
      // A finished run leaves no checkpoint behind.
      await expect(readFile(checkpointPath)).rejects.toThrow(/ENOENT/);
    });
  });

  it('the CLI says so when the token is missing', async () => {
    const env = { ...process.env };
    delete env.CLOUDFLARE_API_TOKEN;
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/backfill.ts', '--world', world, '--remote', '--account-id', 'a', '--namespace-id', 'n'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(1);
    expect(err).toMatch(/backfill failed: CLOUDFLARE_API_TOKEN is not set/);
  });
});
