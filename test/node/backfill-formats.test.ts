// The backfill reads CSV, JSONL and Parquet into the same KV pairs, and those pairs are the records
// the shared feature module computes over the serving window (the same numbers the pre-streaming
// three-pass backfill wrote). Bad input is named by file, row and column.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogItem, Impression, UserProfile } from '../../model/data/impressions.ts';
import { DAY_MS, ITEM_WINDOW_DAYS, USER_WINDOW_DAYS, STATS_ALL, STATS_USERS, entityLookups, FeatureStatsAccumulator, PositionCurve } from '../../model/features/compute.ts';
import { ACTIVE_KEY, itemKey, userKey } from '../../model/features/kv-layout.ts';
import { createWorld, readImpressions, readItems, readUsers, worldSettings, writeWorld } from '../../model/world/index.ts';
import { featureChunks, openInputs, runBackfill, worldInputs, type InputPaths } from '../../scripts/backfill/backfill-world.ts';
import { accumulateStats, SERVING_WINDOW_DAYS } from '../../scripts/backfill/records.ts';
import { MemoryKvTarget } from '../../scripts/backfill/kv-target.ts';
import { IMPRESSIONS_TABLE, openTable, USERS_TABLE, ITEMS_TABLE, TableError } from '../../scripts/backfill/tables.ts';

const VERSION = 'fs-test-formats';
let dir: string;
let users: UserProfile[];
let items: CatalogItem[];
let impressions: Impression[];

async function collect<T>(rows: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const row of rows) out.push(row);
  return out;
}

async function backfillPairs(paths: InputPaths): Promise<Map<string, string>> {
  const target = new MemoryKvTarget();
  const result = await runBackfill(target, paths, { version: VERSION, batchSize: 250, concurrency: 3, verifySample: 50 });
  expect(result.flipped).toBe(true);
  expect(result.written).toBe(users.length + items.length);
  return target.data;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'backfill-formats-'));
  const world = join(dir, 'world');
  await writeWorld(createWorld(worldSettings('tiny')), world);
  const csv = worldInputs(world);
  users = await collect(readUsers(csv.users));
  items = await collect(readItems(csv.items));
  impressions = await collect(readImpressions(csv.impressions));

  const jsonl = (rows: object[]) => rows.map((row) => JSON.stringify(row)).join('\n') + '\n';
  await writeFile(join(dir, 'users.jsonl'), jsonl(users));
  // BigQuery writes INT64 as JSON strings and Spark may write booleans: both must read the same.
  await writeFile(join(dir, 'items.jsonl'), jsonl(items.map((item) => ({ ...item, age_days: String(item.age_days) }))));
  await writeFile(join(dir, 'impressions.ndjson'), jsonl(impressions.map((imp) => ({ ...imp, clicked: imp.clicked === 1, ts: String(imp.ts) }))));

  // Parquet with the types a warehouse writes: INT64 ids/counts, TIMESTAMP, BOOLEAN flags, DOUBLE.
  parquetWriteFile({
    filename: join(dir, 'users.parquet'),
    columnData: [
      { name: 'user_id', data: users.map((u) => u.user_id), type: 'STRING' },
      { name: 'segment', data: users.map((u) => u.segment), type: 'STRING' },
      { name: 'loyalty_tier', data: users.map((u) => u.loyalty_tier), type: 'STRING' },
      { name: 'tenure_days', data: users.map((u) => BigInt(u.tenure_days)), type: 'INT64' },
      { name: 'extra_column', data: users.map(() => 'ignored'), type: 'STRING' },
    ],
  });
  parquetWriteFile({
    filename: join(dir, 'items.parquet'),
    columnData: [
      // columns in another order than the schema's
      { name: 'price', data: items.map((i) => i.price), type: 'DOUBLE' },
      { name: 'item_id', data: items.map((i) => i.item_id), type: 'STRING' },
      { name: 'category', data: items.map((i) => i.category), type: 'STRING' },
      { name: 'brand', data: items.map((i) => i.brand), type: 'STRING' },
      { name: 'rating', data: items.map((i) => i.rating), type: 'DOUBLE' },
      { name: 'age_days', data: items.map((i) => i.age_days), type: 'INT32' },
    ],
  });
  parquetWriteFile({
    filename: join(dir, 'impressions.parquet'),
    rowGroupSize: 3000,
    columnData: [
      { name: 'request_id', data: impressions.map((i) => i.request_id), type: 'STRING' },
      { name: 'ts', data: impressions.map((i) => new Date(i.ts)), type: 'TIMESTAMP' },
      { name: 'user_id', data: impressions.map((i) => i.user_id), type: 'STRING' },
      { name: 'device', data: impressions.map((i) => i.device), type: 'STRING' },
      { name: 'page', data: impressions.map((i) => i.page), type: 'STRING' },
      { name: 'item_id', data: impressions.map((i) => i.item_id), type: 'STRING' },
      { name: 'position', data: impressions.map((i) => i.position), type: 'INT32' },
      { name: 'clicked', data: impressions.map((i) => i.clicked === 1), type: 'BOOLEAN' },
      { name: 'purchased', data: impressions.map((i) => BigInt(i.purchased)), type: 'INT64' },
      { name: 'price', data: impressions.map((i) => i.price), type: 'DOUBLE' },
    ],
  });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('backfill inputs', () => {
  it('gives identical KV pairs from CSV, JSONL and Parquet, equal to the shared feature module over the serving window', async () => {
    const fromCsv = await backfillPairs(worldInputs(join(dir, 'world')));
    const fromJsonl = await backfillPairs({ users: join(dir, 'users.jsonl'), items: join(dir, 'items.jsonl'), impressions: join(dir, 'impressions.ndjson') });
    const fromParquet = await backfillPairs({ users: join(dir, 'users.parquet'), items: join(dir, 'items.parquet'), impressions: join(dir, 'impressions.parquet') });

    // Reference: the window and the statistics computed directly with the feature module.
    const last = Math.max(...impressions.map((i) => i.ts));
    const toTs = (Math.floor(last / DAY_MS) + 1) * DAY_MS;
    const itemFrom = toTs - ITEM_WINDOW_DAYS * DAY_MS;
    const userFrom = toTs - USER_WINDOW_DAYS * DAY_MS;
    const curve = new PositionCurve();
    for (const imp of impressions) if (imp.ts >= itemFrom && imp.ts < toTs) curve.add(imp);
    const stats = new FeatureStatsAccumulator(curve.rates(), entityLookups(users, items));
    for (const imp of impressions) {
      if (imp.ts >= itemFrom && imp.ts < toTs) stats.add(imp, STATS_ALL);
      else if (imp.ts >= userFrom && imp.ts < toTs) stats.add(imp, STATS_USERS);
    }
    const expected = new Map<string, string>();
    for (const item of items) expected.set(itemKey(VERSION, item.item_id), JSON.stringify(stats.itemFeatures(item)));
    for (const user of users) expected.set(userKey(VERSION, user.user_id), JSON.stringify(stats.userFeatures(user)));

    const withoutActive = (pairs: Map<string, string>) => new Map([...pairs].filter(([key]) => key !== ACTIVE_KEY));
    expect(withoutActive(fromCsv)).toEqual(expected);
    expect(withoutActive(fromJsonl)).toEqual(expected);
    expect(withoutActive(fromParquet)).toEqual(expected);
    const active = JSON.parse(fromParquet.get(ACTIVE_KEY)!) as { version: string; users: number; items: number };
    expect(active).toMatchObject({ version: VERSION, users: users.length, items: items.length });
  });

  it('gives the same records whether the first pass keeps the log for replay, keeps none, or outgrows its cap', async () => {
    const records = async (replayRows: number) => {
      const inputs = await openInputs(worldInputs(join(dir, 'world')));
      const { stats } = await accumulateStats(inputs.sources, SERVING_WINDOW_DAYS, replayRows);
      const out: string[] = [];
      for await (const chunk of featureChunks(inputs.sources, stats, VERSION)) chunk.keys.forEach((key, k) => out.push(`${key}=${chunk.value(k)}`));
      return out;
    };
    const replayed = await records(impressions.length);
    expect(replayed).toHaveLength(users.length + items.length);
    expect(await records(0)).toEqual(replayed);
    expect(await records(100)).toEqual(replayed); // the log has thousands of rows: read twice
  });

  it('reads a directory of part files as one table', async () => {
    const parts = join(dir, 'users-parts');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(parts);
    const header = 'user_id,segment,loyalty_tier,tenure_days\n';
    const line = (u: UserProfile) => `${u.user_id},${u.segment},${u.loyalty_tier},${u.tenure_days}\n`;
    await writeFile(join(parts, 'part-00000.csv'), header + users.slice(0, 100).map(line).join(''));
    await writeFile(join(parts, 'part-00001.csv'), header + users.slice(100).map(line).join(''));
    await writeFile(join(parts, '_SUCCESS'), '');
    const table = await openTable(parts, USERS_TABLE);
    const rows = (await collect(table.batches())).flat();
    expect(rows).toEqual(users);
  });

  it('handles quoted CSV fields, CRLF line ends, a BOM and blank lines', async () => {
    const path = join(dir, 'quoted.csv');
    await writeFile(path, '\ufeffitem_id,category,brand,price,rating,age_days\r\n"i1","home","Brand, ""Quoted""",1.5,4,3\r\n\r\ni2,toys,"multi\nline",2,3.5,1\r\n');
    const rows = (await collect((await openTable(path, ITEMS_TABLE)).batches())).flat();
    expect(rows).toEqual([
      { item_id: 'i1', category: 'home', brand: 'Brand, "Quoted"', price: 1.5, rating: 4, age_days: 3 },
      { item_id: 'i2', category: 'toys', brand: 'multi\nline', price: 2, rating: 3.5, age_days: 1 },
    ]);
  });

  it('names the file, row and column of a bad value, in every format', async () => {
    const csvPath = join(dir, 'bad.csv');
    const csv = (await readFile(join(dir, 'world', 'users.csv'), 'utf8')).split('\n');
    csv[3] = csv[3]!.replace(/,\d+$/, ',12.5x');
    await writeFile(csvPath, csv.join('\n'));
    await expect(collect((await openTable(csvPath, USERS_TABLE)).batches())).rejects.toThrow(`${csvPath}: row 3, column tenure_days: expected an integer, got "12.5x"`);

    const jsonlPath = join(dir, 'bad.jsonl');
    await writeFile(jsonlPath, [JSON.stringify(impressions[0]), JSON.stringify({ ...impressions[1], clicked: 2 })].join('\n'));
    await expect(collect((await openTable(jsonlPath, IMPRESSIONS_TABLE)).batches())).rejects.toThrow(`${jsonlPath}: row 2, column clicked: expected 0 or 1 (or true/false), got 2`);

    const missingPath = join(dir, 'missing.parquet');
    parquetWriteFile({ filename: missingPath, columnData: [{ name: 'user_id', data: ['u1'], type: 'STRING' }] });
    await expect(collect((await openTable(missingPath, USERS_TABLE)).batches())).rejects.toThrow(`${missingPath}: missing columns segment, loyalty_tier, tenure_days`);

    const badParquet = join(dir, 'bad-ts.parquet');
    parquetWriteFile({
      filename: badParquet,
      columnData: [
        { name: 'user_id', data: ['u1', ''], type: 'STRING' },
        { name: 'segment', data: ['a', 'b'], type: 'STRING' },
        { name: 'loyalty_tier', data: ['none', 'none'], type: 'STRING' },
        { name: 'tenure_days', data: [1, 2], type: 'INT32' },
      ],
    });
    await expect(collect((await openTable(badParquet, USERS_TABLE)).batches())).rejects.toThrow(`${badParquet}: row 2, column user_id: expected a non-empty id, got ""`);

    await expect(openTable(join(dir, 'users.txt'), USERS_TABLE)).rejects.toThrow(TableError);
  });
});
