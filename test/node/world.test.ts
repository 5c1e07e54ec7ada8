import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Impression } from '../../model/data/impressions.ts';
import { segmentLevelTruth, segmentLevelUsers } from '../../model/world/segment-truth.ts';
import {
  CsvFormatError,
  DEVICES,
  PAGES,
  Rng,
  WORLD_FILES,
  WorldSettingsError,
  createWorld,
  generateImpressions,
  impressionRng,
  readImpressions,
  readItems,
  readUsers,
  rocAuc,
  worldSettings,
  writeWorld,
  type World,
  type WorldContext,
  type WorldFile,
} from '../../model/world/index.ts';

async function collect<T>(rows: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const row of rows) out.push(row);
  return out;
}

const files = (dir: string) => Object.values(WORLD_FILES).map((name) => join(dir, name));

let scratch: string;
let tiny: World;
let tinyDir: string;
let tinyFile: WorldFile;
/** A longer in-memory log of the tiny world, so rates and AUCs are not at the mercy of a few hundred clicks. */
let log: Impression[];

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'world-test-'));
  tiny = createWorld(worldSettings('tiny'));
  tinyDir = join(scratch, 'tiny');
  tinyFile = await writeWorld(tiny, tinyDir);
  log = [...generateImpressions(tiny, 40_000, Rng.stream(99, 'test-log'))];
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('determinism', () => {
  it('builds identical tables from the same settings and different ones from another seed', () => {
    const again = createWorld(worldSettings('tiny'));
    for (const table of ['users', 'items'] as const) {
      for (const [column, values] of Object.entries(tiny[table])) {
        if (ArrayBuffer.isView(values)) expect((again[table] as unknown as Record<string, unknown>)[column], `${table}.${column}`).toEqual(values);
      }
    }
    const other = createWorld(worldSettings('tiny', { seed: 2 }));
    expect(other.users.latent).not.toEqual(tiny.users.latent);
    expect(other.items.price).not.toEqual(tiny.items.price);
  });

  it('writes byte-identical files for the same seed, and a different log for another seed', async () => {
    const againDir = join(scratch, 'tiny-again');
    await writeWorld(createWorld(worldSettings('tiny')), againDir);
    for (const [a, b] of files(tinyDir).map((path, k) => [path, files(againDir)[k]!] as const)) {
      expect((await readFile(b)).equals(await readFile(a)), b).toBe(true);
    }
    const seed2Dir = join(scratch, 'tiny-seed2');
    await writeWorld(createWorld(worldSettings('tiny', { seed: 2 })), seed2Dir);
    const [log1, log2] = await Promise.all([readFile(join(tinyDir, WORLD_FILES.impressions)), readFile(join(seed2Dir, WORLD_FILES.impressions))]);
    expect(log1.equals(log2)).toBe(false);
  });

  it('keeps the users and the catalog when only the log size changes', () => {
    const bigger = createWorld(worldSettings('tiny', { impressions: 50_000 }));
    expect(bigger.users.affinity).toEqual(tiny.users.affinity);
    expect(bigger.items.quality).toEqual(tiny.items.quality);
  });
});

describe('tables and log', () => {
  it('holds the rows the world describes, with valid values', async () => {
    const users = await collect(readUsers(join(tinyDir, WORLD_FILES.users)));
    const items = await collect(readItems(join(tinyDir, WORLD_FILES.items)));
    expect(users).toHaveLength(300);
    expect(items).toHaveLength(400);
    expect(new Set(users.map((u) => u.user_id)).size).toBe(users.length);
    expect(new Set(items.map((i) => i.item_id)).size).toBe(items.length);
    expect(new Set(users.map((u) => u.segment)).size).toBe(5);
    expect(new Set(users.map((u) => u.loyalty_tier))).toEqual(new Set(['none', 'silver', 'gold']));
    for (const item of items) {
      expect(item.price).toBeGreaterThan(0);
      expect(item.rating).toBeGreaterThanOrEqual(1);
      expect(item.rating).toBeLessThanOrEqual(5);
    }
    expect(new Set(items.map((i) => i.category)).size).toBeGreaterThanOrEqual(15);
  });

  it('logs well-formed requests: unique ids, contiguous positions, time order, purchase implies click', async () => {
    const rows = await collect(readImpressions(join(tinyDir, WORLD_FILES.impressions)));
    expect(rows).toHaveLength(tiny.settings.impressions);
    // Problems are collected and compared once: thousands of expect() calls would make this slow.
    const problems: string[] = [];
    const { min, max } = tiny.settings.slateSize;
    const windowEnd = tiny.settings.startTs + tiny.settings.days * 86_400_000;
    const seenRequests = new Set<string>();
    let previousTs = -Infinity;
    for (let start = 0; start < rows.length; ) {
      const first = rows[start]!;
      if (seenRequests.has(first.request_id)) problems.push(`${first.request_id} appears twice`);
      seenRequests.add(first.request_id);
      if (first.ts < previousTs) problems.push(`${first.request_id} is out of time order`);
      previousTs = first.ts;
      let end = start;
      for (; end < rows.length && rows[end]!.request_id === first.request_id; end++) {
        const row = rows[end]!;
        if (row.position !== end - start + 1) problems.push(`${row.request_id} position ${row.position} at offset ${end - start}`);
        if (row.ts !== first.ts || row.user_id !== first.user_id || row.device !== first.device || row.page !== first.page) problems.push(`${row.request_id} changes context`);
      }
      const size = end - start;
      if (size > max || (size < min && end < rows.length)) problems.push(`${first.request_id} has ${size} items`);
      if (new Set(rows.slice(start, end).map((r) => r.item_id)).size !== size) problems.push(`${first.request_id} repeats an item`);
      start = end;
    }
    for (const row of rows) {
      const where = `${row.request_id}/${row.position}`;
      if (row.purchased && !row.clicked) problems.push(`${where} purchased without a click`);
      const item = tiny.itemIndex(row.item_id);
      if (item === undefined) problems.push(`${where} unknown item ${row.item_id}`);
      else if (row.price !== tiny.catalogItem(item).price) problems.push(`${where} price differs from the catalog`);
      if (tiny.userIndex(row.user_id) === undefined) problems.push(`${where} unknown user ${row.user_id}`);
      if (row.ts < tiny.settings.startTs || row.ts >= windowEnd) problems.push(`${where} outside the time window`);
      if (!(DEVICES as readonly string[]).includes(row.device) || !(PAGES as readonly string[]).includes(row.page)) problems.push(`${where} unknown context`);
    }
    expect(problems.slice(0, 10)).toEqual([]);
  });

  it('states its settings and statistics in world.json', async () => {
    const file = JSON.parse(await readFile(join(tinyDir, WORLD_FILES.description), 'utf8')) as WorldFile;
    expect(file).toEqual(JSON.parse(JSON.stringify(tinyFile)));
    expect(file.settings).toEqual(tiny.settings);
    expect(file.stats.impressions).toBe(tiny.settings.impressions);
    expect(file.groundTruth.segments).toHaveLength(5);
    expect(file.groundTruth.categories.reduce((sum, c) => sum + c.items, 0)).toBe(400);
  });
});

describe('ground truth', () => {
  it('has examination(1) = 1, decreasing with position', () => {
    expect(tiny.examination(1)).toBe(1);
    for (let p = 1; p < 100; p++) expect(tiny.examination(p + 1)).toBeLessThan(tiny.examination(p));
    expect(tiny.examination(30)).toBeGreaterThan(0);
  });

  it('gives probabilities in [0, 1], lower further down the slate', () => {
    const rng = Rng.stream(5, 'probabilities');
    const problems: string[] = [];
    for (let k = 0; k < 2_000; k++) {
      const user = rng.int(tiny.users.count);
      const item = rng.int(tiny.items.count);
      const context: WorldContext = { device: DEVICES[rng.int(3)]!, page: PAGES[rng.int(4)]!, ts: tiny.cycle.randomTime(rng) };
      const position = 1 + rng.int(30);
      const top = tiny.pClickTop(user, item, context);
      const there = tiny.pClick(user, item, context, position);
      const probabilities = [top, there, tiny.pPurchaseGivenClick(user, item, context), tiny.pPurchase(user, item, context, position)];
      const where = `user ${user} item ${item} position ${position}`;
      if (probabilities.some((p) => !(p >= 0 && p <= 1))) problems.push(`${where}: ${probabilities.join(', ')}`);
      if (there > top) problems.push(`${where}: pClick ${there} above pClickTop ${top}`);
      if (tiny.pClick(user, item, context, 1) !== top) problems.push(`${where}: pClick at 1 differs from pClickTop`);
    }
    expect(problems.slice(0, 10)).toEqual([]);
    expect(() => tiny.pClick(0, 0, { device: 'mobile', page: 'home', ts: tiny.settings.startTs }, 0)).toThrow(RangeError);
  });

  it('lands on realistic rates: CTR 3-8%, CVR given click 5-15%, oracle AUC 0.75-0.82', () => {
    for (const stats of [tinyFile.stats, summarize(log)]) {
      expect(stats.ctr).toBeGreaterThan(0.03);
      expect(stats.ctr).toBeLessThan(0.08);
      expect(stats.cvr).toBeGreaterThan(0.05);
      expect(stats.cvr).toBeLessThan(0.15);
    }
    const auc = rocAuc(
      log.map((row) => tiny.impressionTruth(row).pClick),
      log.map((row) => row.clicked),
    );
    expect(auc).toBeGreaterThan(0.75);
    expect(auc).toBeLessThan(0.82);
  });

  it('has a segment-level ceiling: users reduced to their segment, items untouched, ranking between popularity and the oracle', () => {
    const users = segmentLevelUsers(tiny.users, tiny.params, tiny.settings.latentDim);
    const same = (u: number, v: number) =>
      users.priceLevel[u] === users.priceLevel[v] && users.latent.subarray(u * 4, u * 4 + 4).every((x: number, d: number) => x === users.latent[v * 4 + d]);
    const first = new Map<number, number>();
    for (let u = 0; u < users.count; u++) {
      const s = users.segment[u]!;
      if (!first.has(s)) first.set(s, u);
      expect(same(u, first.get(s)!)).toBe(true);
    }
    expect(first.size).toBeGreaterThan(1);
    const ceiling = segmentLevelTruth(tiny);
    const rows = log.slice(0, 4000);
    const truth = rows.map((row) => tiny.impressionTruth(row).pClick);
    const clicks = rows.map((row) => row.clicked);
    const atTop = (row: (typeof rows)[number]) => ceiling.attractiveness(tiny.userIndex(row.user_id)!, tiny.itemIndex(row.item_id)!, tiny.contextOf(row)) * tiny.examination(row.position);
    const ceilingAuc = rocAuc(rows.map(atTop), clicks);
    expect(ceilingAuc).toBeLessThan(rocAuc(truth, clicks));
    expect(ceilingAuc).toBeGreaterThan(0.7);
  });

  it('shows position bias in the log', () => {
    const ctrAt = (position: number) => summarize(log.filter((row) => row.position === position)).ctr;
    expect(ctrAt(1)).toBeGreaterThan(ctrAt(5));
    expect(ctrAt(5)).toBeGreaterThan(ctrAt(20));
  });

  it('hides effects that observable features cannot fully recover', () => {
    // A count-based model of the observable fields (position x smoothed click lifts of segment and
    // category, item, user, device and page), fitted on the first 70% of the log, scored on the rest.
    const cut = Math.floor(log.length * 0.7);
    const train = log.slice(0, cut);
    const test = log.slice(cut);
    const observable = observableModel(tiny, train);
    const labels = test.map((row) => row.clicked);
    const oracleAuc = rocAuc(
      test.map((row) => tiny.impressionTruth(row).pClick),
      labels,
    );
    const observableAuc = rocAuc(test.map(observable), labels);
    const positionAuc = rocAuc(
      test.map((row) => -row.position),
      labels,
    );
    expect(oracleAuc).toBeGreaterThan(0.7);
    expect(observableAuc).toBeGreaterThan(0.5);
    expect(oracleAuc - observableAuc).toBeGreaterThan(0.03);
    expect(oracleAuc - positionAuc).toBeGreaterThan(0.03);
  });
});

describe('world API', () => {
  it('converts between ids and indices and returns table rows', () => {
    expect(tiny.userId(123)).toBe('u000123');
    expect(tiny.itemIndex('i000399')).toBe(399);
    expect(tiny.userIndex(tiny.userId(42))).toBe(42);
    for (const unknown of ['u000300', 'u12', 'x000001', 'u00001a', '']) expect(tiny.userIndex(unknown)).toBeUndefined();
    expect(tiny.userProfile(7).user_id).toBe('u000007');
    expect(tiny.catalogItem(7)).toMatchObject({ item_id: 'i000007', price: tiny.items.price[7] });
    expect(() => tiny.impressionTruth({ ...log[0]!, item_id: 'i999999' })).toThrow(/unknown item/);
  });

  it('samples requests for a simulator', () => {
    const rng = Rng.stream(3, 'simulator');
    for (let k = 0; k < 200; k++) {
      const request = tiny.sampleRequest(rng);
      expect(request.candidates.length).toBeGreaterThanOrEqual(10);
      expect(request.candidates.length).toBeLessThanOrEqual(30);
      expect(new Set(request.candidates).size).toBe(request.candidates.length);
      for (const item of request.candidates) expect(item).toBeLessThan(tiny.items.count);
      expect(request.userIndex).toBeLessThan(tiny.users.count);
      expect(DEVICES).toContain(request.context.device);
      expect(PAGES).toContain(request.context.page);
    }
    // A slate as large as the catalog still works (every item once).
    const whole = createWorld(worldSettings('tiny', { items: 30, slateSize: { min: 30, max: 30 } }));
    for (let k = 0; k < 20; k++) expect(new Set(whole.sampleRequest(rng).candidates).size).toBe(30);
  });

  it('generates the same log in memory as on disk', async () => {
    const fromDisk = await collect(readImpressions(join(tinyDir, WORLD_FILES.impressions)));
    const inMemory = [...generateImpressions(tiny, tiny.settings.impressions, impressionRng(tiny))];
    expect(fromDisk).toEqual(inMemory);
  });

  it('rejects bad settings naming the field', () => {
    expect(() => worldSettings('tiny', { items: 20 })).toThrow(WorldSettingsError);
    expect(() => worldSettings('tiny', { items: 20 })).toThrow(/slateSize\.max/);
    expect(() => worldSettings('tiny', { seed: -1 })).toThrow(/seed/);
    expect(() => worldSettings('tiny', { users: 1.5 })).toThrow(/users/);
  });
});

describe('readers', () => {
  it('round-trip the tables', async () => {
    const users = await collect(readUsers(join(tinyDir, WORLD_FILES.users)));
    const items = await collect(readItems(join(tinyDir, WORLD_FILES.items)));
    expect(users).toEqual(Array.from({ length: tiny.users.count }, (_, u) => tiny.userProfile(u)));
    expect(items).toEqual(Array.from({ length: tiny.items.count }, (_, i) => tiny.catalogItem(i)));
  });

  it('reject a wrong header or a malformed value, naming the file and row', async () => {
    const badHeader = join(scratch, 'bad-header.csv');
    await writeFile(badHeader, 'user_id,segment,tier,tenure_days\nu000001,casual,none,3\n');
    await expect(collect(readUsers(badHeader))).rejects.toThrow(CsvFormatError);
    const badValue = join(scratch, 'bad-value.csv');
    await writeFile(badValue, 'user_id,segment,loyalty_tier,tenure_days\nu000001,casual,none,3\nu000002,casual,none,soon\n');
    await expect(collect(readUsers(badValue))).rejects.toThrow(/bad-value\.csv: row 2: tenure_days must be integer/);
  });
});

describe('CLI', () => {
  const run = promisify(execFile);
  const cli = ['--import', 'tsx', 'scripts/world.ts'];

  it('writes a world and ends with a JSON summary', async () => {
    const out = join(scratch, 'cli');
    const { stdout } = await run(process.execPath, [...cli, '--preset', 'tiny', '--impressions', '2000', '--out', out, '--json']);
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ out, users: 300, items: 400, impressions: 2000 });
    expect(Object.keys(summary)).toEqual(['out', 'users', 'items', 'impressions', 'ctr', 'cvr', 'seconds']);
  });

  it('rejects a bad flag value with a clear error', async () => {
    await expect(run(process.execPath, [...cli, '--preset', 'tiny', '--users', 'many'])).rejects.toMatchObject({ stderr: expect.stringMatching(/--users.*integer/) });
  });
});

function summarize(rows: Impression[]): { ctr: number; cvr: number } {
  const clicks = rows.reduce((sum, row) => sum + row.clicked, 0);
  const purchases = rows.reduce((sum, row) => sum + row.purchased, 0);
  return { ctr: clicks / rows.length, cvr: purchases / clicks };
}

function observableModel(world: World, train: Impression[]): (row: Impression) => number {
  const positionCounts = new Map<number, { clicks: number; shown: number }>();
  for (const row of train) {
    const counts = positionCounts.get(row.position) ?? { clicks: 0, shown: 0 };
    counts.clicks += row.clicked;
    counts.shown += 1;
    positionCounts.set(row.position, counts);
  }
  const positionCtr = (position: number) => {
    const counts = positionCounts.get(position) ?? { clicks: 0, shown: 0 };
    return (counts.clicks + 1) / (counts.shown + 20);
  };
  // Clicks over the clicks expected from position alone, smoothed towards 1.
  const lift = (key: (row: Impression) => string) => {
    const counts = new Map<string, { clicks: number; expected: number }>();
    for (const row of train) {
      const entry = counts.get(key(row)) ?? { clicks: 0, expected: 0 };
      entry.clicks += row.clicked;
      entry.expected += positionCtr(row.position);
      counts.set(key(row), entry);
    }
    return (row: Impression) => {
      const entry = counts.get(key(row)) ?? { clicks: 0, expected: 0 };
      return (entry.clicks + 10) / (entry.expected + 10);
    };
  };
  const segmentCategory = lift((row) => `${world.userProfile(world.userIndex(row.user_id)!).segment}|${world.catalogItem(world.itemIndex(row.item_id)!).category}`);
  const item = lift((row) => row.item_id);
  const user = lift((row) => row.user_id);
  const context = lift((row) => `${row.device}|${row.page}`);
  return (row) => positionCtr(row.position) * segmentCategory(row) * item(row) * user(row) * context(row);
}
