// Dataset schema files, the schema-driven reader (on the real Expedia sample, read in place from
// ../shared/data/expedia-icdm2013, never copied), NDCG@k and a tiny end-to-end training run.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDatasetSchema, parseDatasetSchema, type DatasetSchema } from '../../model/data/dataset-schema.ts';
import { collectSlates, parseTime, readImpressions, readSlates, type DatasetSlate } from '../../model/data/read-dataset.ts';
import {
  bootstrapMeanCI,
  dcgAtK,
  meanOf,
  ndcgAtK,
  pairedBootstrapCI,
  randomNdcgAtK,
  slateRelevance,
} from '../../model/eval/ranking-metrics.ts';
import { assembleTrainingSet } from '../../model/dataset/training-set.ts';
import { parseManifest } from '../../model/features/manifest.ts';
import { nodeScorer } from '../../model/onnx/score-node.ts';
import { holdoutSlates, trainDataset } from '../../model/pipeline/train-dataset.ts';
import { mergeEnsemble } from '../../model/train/ensemble.ts';
import { predict } from '../../model/train/predict.ts';
import { createModel } from '../../model/train/model.ts';
import { DEFAULT_SHAPE } from '../../model/train/types.ts';
import { hasExpedia } from './shared-data.ts';

const SCHEMA_PATH = 'model/data/schemas/expedia-icdm2013.json';

/** A small valid schema document to break one field at a time. */
function minimalSchema(): Record<string, any> {
  return {
    schema_version: 1,
    name: 'tiny',
    data_root: '.',
    format: { kind: 'csv' },
    missing: ['', 'NULL'],
    splits: { train: 'train.csv' },
    impression: {
      request_id: 'req',
      time: { column: 'time', parse: 'epoch_seconds' },
      user_id: 'user',
      item_id: 'item',
      position: { column: 'pos', base: 0 },
      clicked: 'click',
      purchased: 'buy',
      price: 'price',
    },
    records: {
      user: { age: 'number' },
      item: { stars: 'number', brand: { column: 'brand_name', type: 'string' } },
      context: { device: 'string', mobile: 'flag' },
    },
    slate_metadata: { shuffled: 'flag' },
    feature_template: {
      features: [
        { name: 'item_stars', kind: 'numeric', from: { source: 'item', field: 'stars' }, default: 3, transform: {} },
        { name: 'item_brand', kind: 'categorical', from: { source: 'item', field: 'brand' }, vocab: [] },
        { name: 'price_vs_age', kind: 'cross', op: 'log_ratio', numerator: { source: 'item', field: 'price' }, denominator: { source: 'user', field: 'age' }, default: 0, transform: { clip: [-3, 3] } },
      ],
      inputs: [
        { name: 'cat', dtype: 'int32', features: ['item_brand'] },
        { name: 'num', dtype: 'float32', features: ['item_stars', 'price_vs_age'] },
      ],
    },
  };
}

function schemaError(mutate: (s: Record<string, any>) => void): string {
  const doc = minimalSchema();
  mutate(doc);
  try {
    parseDatasetSchema(doc, 'test.json');
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected the schema to be rejected');
}

describe('dataset schema files', () => {
  it('accepts a valid schema and fills defaults', () => {
    const schema = parseDatasetSchema(minimalSchema());
    expect(schema.format).toEqual({ kind: 'csv', delimiter: ',', grouped_by_request: true });
    // template transforms without mean/std get the placeholders fitting replaces
    const stars = schema.feature_template!.features[0]!;
    expect(stars.kind === 'numeric' && stars.transform).toEqual({ mean: 0, std: 1 });
  });

  it('names the bad field in every error', () => {
    expect(schemaError((s) => (s.records.item.stars = 'integer'))).toMatch(/records\.item\.stars/);
    expect(schemaError((s) => delete s.impression.item_id)).toMatch(/impression\.item_id/);
    expect(schemaError((s) => (s.impression.time.parse = 'yyyy'))).toMatch(/impression\.time\.parse/);
    expect(schemaError((s) => (s.format.kind = 'xml'))).toMatch(/format\.kind/);
    expect(schemaError((s) => (s.splits = {}))).toMatch(/splits/);
    expect(schemaError((s) => (s.surprise = 1))).toMatch(/surprise/);
    expect(schemaError((s) => (s.records.item.stars = { type: 'string', map: 'exp' }))).toMatch(/records\.item\.stars\.map/);
    // the message says which file it came from
    expect(schemaError((s) => (s.name = 'Bad Name'))).toMatch(/test\.json[\s\S]*name:/);
  });

  it('refuses the position, the labels and slate metadata as record fields', () => {
    expect(schemaError((s) => (s.records.item.slot = { column: 'pos', type: 'number' }))).toMatch(/records\.item\.slot: column pos is the logged position/);
    expect(schemaError((s) => (s.records.context.clicked = { column: 'click', type: 'flag' }))).toMatch(/records\.context\.clicked: column click is the click label/);
    expect(schemaError((s) => (s.records.context.shuffled = 'flag'))).toMatch(/records\.context\.shuffled: .*slate metadata/);
    expect(schemaError((s) => (s.records.item.price = 'number'))).toMatch(/records\.item\.price: 'price' is reserved/);
    expect(schemaError((s) => (s.records.inline = { stars: 'number' }))).toMatch(/records\.inline\.stars: stars is also an item field/);
  });

  it('checks the feature template against the declared records', () => {
    expect(schemaError((s) => (s.feature_template.features[0].from.field = 'starz'))).toMatch(
      /feature_template\.features\.0\.from\.field: unknown item field starz; declared item fields: brand, id, price, stars/,
    );
    const withUserId = minimalSchema();
    withUserId.feature_template.features[2].denominator = { source: 'user', field: 'id' };
    expect(() => parseDatasetSchema(withUserId)).not.toThrow();
    expect(
      schemaError((s) => {
        delete s.impression.user_id;
        s.feature_template.features[2].denominator = { source: 'user', field: 'id' };
      }),
    ).toMatch(/feature_template\.features\.2\.denominator\.field: .*no user id/);
    // request (inline) fields: the price, the item id and the declared inline fields
    expect(schemaError((s) => (s.feature_template.features[0].from = { source: 'request', field: 'distance' }))).toMatch(
      /feature_template\.features\.0\.from\.field: unknown request field distance; declared request fields: id, price/,
    );
    const inline = minimalSchema();
    inline.records.inline = { distance: 'number' };
    inline.feature_template.features[0].from = { source: 'request', field: 'distance' };
    expect(() => parseDatasetSchema(inline)).not.toThrow();
    expect(schemaError((s) => (s.feature_template.inputs[1].features[0] = 'nope'))).toMatch(/feature_template\.inputs\.1\.features\.0: unknown feature nope/);
    expect(schemaError((s) => (s.feature_template.inputs[0].features = ['item_stars']))).toMatch(/feature_template\.inputs\.0\.features\.0: numeric feature item_stars cannot fill the int32 input/);
    expect(schemaError((s) => (s.feature_template.features[0].transform = { std: -1 }))).toMatch(/feature_template\.features\.0\.transform\.std/);
  });

  it('the Expedia schema file is valid, and position is not a served feature', async () => {
    const schema = await loadDatasetSchema(SCHEMA_PATH);
    expect(schema.name).toBe('expedia-icdm2013');
    const refs = JSON.stringify(schema.feature_template);
    expect(refs).not.toMatch(/position/);
    expect(Object.keys(schema.slate_metadata)).toEqual(['random_bool']);
  });
});

describe('time parse rules', () => {
  it('parses each rule and rejects what does not match', () => {
    expect(parseTime('2012-12-19 14:24:00', 'datetime_utc')).toBe(Date.UTC(2012, 11, 19, 14, 24));
    expect(parseTime('2012-12-19T14:24', 'datetime_utc')).toBe(Date.UTC(2012, 11, 19, 14, 24));
    expect(parseTime('2013-02-30 00:00:00', 'datetime_utc')).toBeUndefined();
    expect(parseTime('2012-12-19T14:24:00+01:00', 'iso8601')).toBe(Date.UTC(2012, 11, 19, 13, 24));
    expect(parseTime('2012-12-19 14:24:00', 'iso8601')).toBeUndefined();
    expect(parseTime('1355927040', 'epoch_seconds')).toBe(1355927040000);
    expect(parseTime('1355927040000', 'epoch_millis')).toBe(1355927040000);
    expect(parseTime('soon', 'epoch_millis')).toBeUndefined();
  });
});

describe('a schema-described CSV (user ids, NULL spelling, 0-based positions, ungrouped rows)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dataset-schema-'));
    await writeFile(
      join(dir, 'train.csv'),
      [
        'req,time,user,item,pos,click,buy,price,age,stars,brand_name,device,mobile,shuffled',
        'r1,1000,u1,a,1,1,1,20,30,4,acme,ios,1,0',
        'r2,2000,NULL,c,0,0,0,NULL,NULL,NULL,,web,0,1',
        'r1,1000,u1,b,0,0,0,10.5,30,NULL,NULL,ios,1,0',
      ].join('\n'),
    );
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('reads typed records, leaves missing values out, orders by position', async () => {
    const schema = parseDatasetSchema({ ...minimalSchema(), format: { kind: 'csv', grouped_by_request: false } });
    const slates = await collectSlates(schema, 'train', { dataRoot: dir });
    expect(slates.map((s) => s.requestId)).toEqual(['r1', 'r2']);
    const [r1, r2] = slates as [DatasetSlate, DatasetSlate];
    expect(r1.items.map((i) => i.id)).toEqual(['b', 'a']);
    expect(Array.from(r1.positions)).toEqual([1, 2]);
    expect(r1.userId).toBe('u1');
    expect(r1.user).toEqual({ age: 30 });
    expect(r1.context).toEqual({ device: 'ios', mobile: 1 });
    expect(r1.items[0]).toEqual({ id: 'b', stored: { price: 10.5 }, inline: { price: 10.5 } });
    expect(r1.items[1]).toEqual({ id: 'a', stored: { stars: 4, brand: 'acme', price: 20 }, inline: { price: 20 } });
    expect(Array.from(r1.clicks)).toEqual([0, 1]);
    expect(Array.from(r1.purchases)).toEqual([0, 1]);
    expect(r1.ts).toBe(1_000_000);
    expect(r1.metadata).toEqual({ shuffled: 0 });
    expect(r2.userId).toBeUndefined();
    expect(r2.user).toEqual({});
    expect(r2.items[0]).toEqual({ id: 'c', stored: {}, inline: {} });
    expect(r2.metadata).toEqual({ shuffled: 1 });
  });

  it('refuses ungrouped rows when the schema promises grouping', async () => {
    const schema = parseDatasetSchema(minimalSchema());
    await expect(collectSlates(schema, 'train', { dataRoot: dir })).rejects.toThrow(/request r1 appears again.*grouped_by_request/);
  });

  it('names the file, row, column and schema field of a bad value or a missing column', async () => {
    const bad = join(dir, 'bad.csv');
    await writeFile(bad, 'req,time,user,item,pos,click,buy,price,age,stars,brand_name,device,mobile,shuffled\nr1,1000,u1,a,0,1,0,20,30,four,x,ios,1,0\n');
    const schema = parseDatasetSchema({ ...minimalSchema(), splits: { train: 'bad.csv' } });
    await expect(collectSlates(schema, 'train', { dataRoot: dir })).rejects.toThrow(/bad\.csv: row 1: column stars \(schema field records\.item\.stars\) must be a finite number, got "four"/);
    const noColumn = parseDatasetSchema({ ...minimalSchema(), records: { ...minimalSchema().records, item: { ...minimalSchema().records.item, color: 'string' } } });
    await expect(collectSlates(noColumn, 'train', { dataRoot: dir })).rejects.toThrow(/column color \(schema field records\.item\.color\) is not in the header/);
    await expect(collectSlates(schema, 'nope', { dataRoot: dir })).rejects.toThrow(/no split 'nope'/);
    const missingFile = parseDatasetSchema({ ...minimalSchema(), splits: { train: 'gone.csv' } });
    await expect(collectSlates(missingFile, 'train', { dataRoot: dir })).rejects.toThrow(/gone\.csv: no such file/);
  });
});

describe.skipIf(!hasExpedia)('the Expedia ICDM 2013 sample, read in place by its relative path', () => {
  let schema: DatasetSchema;
  const slates: Record<string, DatasetSlate[]> = {};
  beforeAll(async () => {
    schema = await loadDatasetSchema(SCHEMA_PATH);
    expect(schema.data_root).toBe('../shared/data/expedia-icdm2013');
    for (const split of ['train', 'eval', 'test']) slates[split] = await collectSlates(schema, split);
  });

  it('gives the documented counts', () => {
    const rows = (s: DatasetSlate[]) => s.reduce((n, x) => n + x.items.length, 0);
    const sum = (s: DatasetSlate[], f: (x: DatasetSlate) => Uint8Array) => s.reduce((n, x) => n + f(x).reduce((a, b) => a + b, 0), 0);
    expect([rows(slates.train!), rows(slates.eval!), rows(slates.test!)]).toEqual([6278, 1614, 2108]);
    expect([slates.train!.length, slates.eval!.length, slates.test!.length]).toEqual([263, 66, 83]);
    const all = [...slates.train!, ...slates.eval!, ...slates.test!];
    expect(sum(all, (x) => x.clicks)).toBe(457);
    expect(sum(all, (x) => x.purchases)).toBe(281);
    expect([sum(slates.train!, (x) => x.clicks), sum(slates.eval!, (x) => x.clicks), sum(slates.test!, (x) => x.clicks)]).toEqual([300, 70, 87]);
    expect(all.every((s) => s.clicks.some((c) => c === 1))).toBe(true);
    expect(all.filter((s) => s.metadata.random_bool === 1).reduce((n, s) => n + s.items.length, 0)).toBe(3236);
    expect([...slates.eval!, ...slates.test!].filter((s) => s.metadata.random_bool === 1)).toHaveLength(47);
    expect(new Set(all.map((s) => s.requestId)).size).toBe(412);
  });

  it('orders every slate by logged position and types the records', () => {
    // Violations are collected and compared once: thousands of expect() calls are slow.
    const problems: string[] = [];
    const check = (ok: boolean, what: string) => {
      if (!ok && problems.length < 20) problems.push(what);
    };
    for (const s of [...slates.train!, ...slates.eval!, ...slates.test!]) {
      const at = `srch_id ${s.requestId}`;
      for (let i = 1; i < s.positions.length; i++) check(s.positions[i]! > s.positions[i - 1]!, `${at}: positions not increasing`);
      check(s.userId === undefined, `${at}: Expedia has no user id, every request is anonymous`);
      check(typeof s.context.site_id === 'string' && typeof s.context.destination_id === 'string', `${at}: string context ids`);
      check(typeof s.context.length_of_stay === 'number', `${at}: numeric length_of_stay`);
      check(s.context.saturday_night === 0 || s.context.saturday_night === 1, `${at}: flag saturday_night`);
      check(s.metadata.random_bool === 0 || s.metadata.random_bool === 1, `${at}: flag random_bool`);
      for (const item of s.items) {
        check(typeof item.stored!.starrating === 'number', `${at} ${item.id}: numeric starrating`);
        check(item.stored!.brand === 0 || item.stored!.brand === 1, `${at} ${item.id}: flag brand`);
        check(typeof item.stored!.price === 'number' && item.inline?.price === item.stored!.price, `${at} ${item.id}: price stored and inline`);
      }
    }
    expect(problems).toEqual([]);
    // srch_id 42 (first train row: prop 2068 at position 7, price 68.75, 4.0 reviews, no visitor history)
    const s42 = slates.train!.find((s) => s.requestId === '42')!;
    const item = s42.items.find((i) => i.id === '2068')!;
    expect(s42.positions[s42.items.indexOf(item)]).toBe(7);
    expect(item.stored).toMatchObject({ starrating: 2, review_score: 4, brand: 1, location_score1: 1.61, location_score2: 0.1238, price: 68.75, promotion: 0 });
    // per (search, hotel) values travel inline with the request, not in the hotel's record
    expect(item.inline).toEqual({ price: 68.75, distance: 55.72 });
    expect(item.stored).not.toHaveProperty('distance');
    expect(item.stored!.historical_price).toBeCloseTo(Math.exp(4.49), 6);
    expect(s42.ts).toBe(Date.UTC(2012, 11, 19, 14, 24));
    expect(s42.context).toMatchObject({ site_id: '14', visitor_country_id: '100', destination_id: '5740', length_of_stay: 1, booking_window: 87, adults: 2, children: 0, rooms: 1, saturday_night: 1 });
  });

  it('leaves missing values out of the records (absent, not 0)', () => {
    const all = [...slates.train!, ...slates.eval!, ...slates.test!];
    const items = all.flatMap((s) => s.items.map((i) => i.stored!));
    const users = all.map((s) => s.user!);
    // counts from the raw files: 1301 + 332 + 636 empty prop_location_score2 cells
    expect(items.filter((r) => !('location_score2' in r))).toHaveLength(1301 + 332 + 636);
    expect(items.filter((r) => !('review_score' in r))).toHaveLength(11 + 6);
    expect(items.some((r) => Object.values(r).some((v) => v === undefined || (typeof v === 'number' && Number.isNaN(v))))).toBe(false);
    // prop_log_historical_price: 0 means "not sold" and is declared missing for that field
    expect(items.every((r) => r.historical_price === undefined || (r.historical_price as number) > 1)).toBe(true);
    expect(users.filter((u) => 'hist_starrating' in u).length).toBeGreaterThan(0);
    expect(users.filter((u) => !('hist_starrating' in u)).length).toBeGreaterThan(300);
  });

  it('streams impressions one by one', async () => {
    let n = 0;
    for await (const imp of readImpressions(schema, 'eval')) {
      expect(imp.position).toBeGreaterThanOrEqual(1);
      n++;
    }
    expect(n).toBe(1614);
    const firstTwo: DatasetSlate[] = [];
    for await (const s of readSlates(schema, 'test', { limit: 2 })) firstTwo.push(s);
    expect(firstTwo).toHaveLength(2);
  });
});

describe('NDCG@k', () => {
  const log2 = Math.log2;
  it('matches hand-computed values', () => {
    // ranked relevance [0, 1, 5]: DCG = 0 + 1/log2(3) + 5/log2(4); ideal [5, 1, 0]: 5 + 1/log2(3)
    const dcg = 1 / log2(3) + 5 / 2;
    const ideal = 5 + 1 / log2(3);
    expect(dcgAtK([0, 1, 5], 3)).toBeCloseTo(dcg, 12);
    expect(ndcgAtK([3, 2, 1], [0, 1, 5], 3)).toBeCloseTo(dcg / ideal, 12);
    expect(ndcgAtK([1, 2, 3], [0, 1, 5], 3)).toBeCloseTo(1, 12);
    // cut-off: only the top item counts at k = 1
    expect(ndcgAtK([3, 2, 1], [0, 1, 5], 1)).toBe(0);
    expect(ndcgAtK([3, 2, 1], [1, 0, 5], 2)).toBeCloseTo(1 / (5 + 1 / log2(3)), 12);
    // exponential gains 2^rel - 1: [0, 1, 31]
    expect(ndcgAtK([3, 2, 1], [0, 1, 5], 3, 'exponential')).toBeCloseTo((1 / log2(3) + 31 / 2) / (31 + 1 / log2(3)), 12);
  });

  it('resolves ties in expectation and never by input order', () => {
    // two tied items, one relevant: half the time at rank 1, half at rank 2
    const expected = 0.5 * 1 + 0.5 / log2(3);
    expect(ndcgAtK([7, 7], [1, 0], 2)).toBeCloseTo(expected, 12);
    expect(ndcgAtK([7, 7], [0, 1], 2)).toBeCloseTo(expected, 12);
    expect(randomNdcgAtK([1, 0], 2)).toBeCloseTo(expected, 12);
    // a tie straddling the cut-off: ranks 2-3 tied, k = 2 -> mean gain (5+0)/2 at rank 2 only
    expect(ndcgAtK([9, 1, 1], [1, 5, 0], 2)).toBeCloseTo((1 + 2.5 / log2(3)) / (5 + 1 / log2(3)), 12);
  });

  it('is NaN for a slate without a relevant item, and means skip it', () => {
    expect(ndcgAtK([1, 2], [0, 0], 10)).toBeNaN();
    expect(meanOf([0.5, Number.NaN, 1])).toBe(0.75);
  });

  it('relevance grades: 5 booked, 1 clicked only, 0 otherwise', () => {
    expect(Array.from(slateRelevance({ clicks: [1, 1, 0], purchases: [1, 0, 0] }))).toEqual([5, 1, 0]);
  });

  it('bootstrap CIs are seeded and sensible', () => {
    const values = Array.from({ length: 50 }, (_, i) => (i % 5) / 4);
    const a = bootstrapMeanCI(values, { seed: 3, samples: 2000 });
    const b = bootstrapMeanCI(values, { seed: 3, samples: 2000 });
    expect(a).toEqual(b);
    expect(a.mean).toBeCloseTo(0.5, 12);
    expect(a.lo).toBeLessThan(0.5);
    expect(a.hi).toBeGreaterThan(0.5);
    expect(a.n).toBe(50);
    const constant = bootstrapMeanCI([0.3, 0.3, 0.3]);
    expect([constant.lo, constant.hi]).toEqual([0.3, 0.3]);
    const paired = pairedBootstrapCI([0.5, 0.6, 0.7], [0.4, 0.5, 0.6]);
    expect(paired.mean).toBeCloseTo(0.1, 12);
    expect(paired.lo).toBeCloseTo(0.1, 12);
  });
});

describe('merging seeds into one network', () => {
  it('averages the logits exactly', () => {
    const shape = { ...DEFAULT_SHAPE, embeddingDim: 3, hidden: [5, 4], headHidden: [2] };
    const models = [1, 2, 3].map((seed) => createModel(shape, [4, 3], 2, seed));
    const merged = mergeEnsemble(models);
    const cat = Int32Array.from([0, 1, 3, 2, 1, 0]);
    const num = Float32Array.from([0.5, -1, 2, 0.1, -0.3, 0.7]);
    const logit = (p: number) => Math.log(p / (1 - p));
    const parts = models.map((m) => predict(m, cat, num));
    const out = predict(merged, cat, num);
    for (let r = 0; r < 3; r++) {
      const ctr = parts.reduce((s, p) => s + logit(p.pCtr[r]!), 0) / 3;
      const cvr = parts.reduce((s, p) => s + logit(p.pCvr[r]!), 0) / 3;
      expect(logit(out.pCtr[r]!)).toBeCloseTo(ctr, 4);
      expect(logit(out.pCvr[r]!)).toBeCloseTo(cvr, 4);
    }
  });
});

describe('training on a schema-described dataset', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'train-dataset-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('holds out whole slates, seeded', () => {
    const items = Array.from({ length: 10 }, (_, i) => i);
    const a = holdoutSlates(items, 0.3, 5);
    expect(a.holdout).toHaveLength(3);
    expect([...a.rest, ...a.holdout].sort((x, y) => x - y)).toEqual(items);
    expect(holdoutSlates(items, 0.3, 5)).toEqual(a);
  });

  it.skipIf(!hasExpedia)('trains on the train split and exports a manifest and ONNX models that run', async () => {
    const schema = await loadDatasetSchema(SCHEMA_PATH);
    const trained = await trainDataset({
      schema,
      modelId: 'expedia-test',
      validation: { kind: 'holdout', fraction: 0.2, seed: 1, refit: true },
      evalSplits: ['eval'],
      seeds: [1, 2],
      train: { epochs: 3, batchSize: 256, shape: { embeddingDim: 4, hidden: [8] } },
      outDir: dir,
    });
    const manifest = parseManifest(JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')));
    expect(manifest.feature_set.schema).toBe('expedia-icdm2013');
    expect(manifest.model.id).toBe('expedia-test');
    expect(manifest.features.some((f) => JSON.stringify(f).includes('position'))).toBe(false);
    const evaluation = trained.evaluation!;
    expect(evaluation.slates).toBe(66);
    expect(evaluation.int8.ndcg.mean).toBeGreaterThan(0);
    expect(evaluation.int8.ndcg.lo).toBeLessThanOrEqual(evaluation.int8.ndcg.mean);
    expect(evaluation.baselines.logged.mean).toBeGreaterThan(evaluation.baselines.random.mean);

    const bytes = new Uint8Array(await readFile(join(dir, manifest.files.model)));
    const scorer = await nodeScorer(bytes);
    try {
      const set = assembleTrainingSet(manifest, trained.evalSlates.slice(0, 3));
      const rows = set.click.length;
      const out = await scorer.run(
        {
          cat: { dtype: 'int32', data: set.cat, width: set.cat.length / rows },
          num: { dtype: 'float32', data: set.num, width: set.num.length / rows },
        },
        rows,
      );
      expect(out.p_ctr).toHaveLength(rows);
      for (const p of [...out.p_ctr!, ...out.p_cvr!]) {
        expect(p).toBeGreaterThan(0);
        expect(p).toBeLessThan(1);
      }
    } finally {
      await scorer.release();
    }
  });

  it('refuses to write into model/artifacts', async () => {
    const schema = await loadDatasetSchema(SCHEMA_PATH);
    await expect(trainDataset({ schema, outDir: 'model/artifacts/expedia' })).rejects.toThrow(/refusing to write into model\/artifacts/);
  });
});
