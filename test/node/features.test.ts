import { describe, expect, it } from 'vitest';
import { FeatureAssembler, type AssembledInput, type SlateRecords } from '../../model/features/assemble.ts';
import { KeyInterner } from '../../model/features/table-cross.ts';
import fc from 'fast-check';
import { CategoryPrices, entityLookups, FeatureStatsAccumulator, IdInterner, PositionCurve, round4, STATS_ALL, STATS_ITEMS, STATS_USERS } from '../../model/features/compute.ts';
import { pointInTimeSlates } from '../../model/dataset/point-in-time.ts';
import { fitFeatures } from '../../model/features/fit.ts';
import { fnv1a32 } from '../../model/features/hash.ts';
import { parseManifest, type FeatureSpec, type Manifest, type ModelInput } from '../../model/features/manifest.ts';
import { contextRecord, type RawValue } from '../../model/features/records.ts';
import type { Impression } from '../../model/data/impressions.ts';

function referenceFnv(value: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(value)) hash = Math.imul(hash ^ byte, 0x01000193);
  return hash >>> 0;
}

function manifestWith(features: FeatureSpec[], inputs: ModelInput[]): Manifest {
  return parseManifest({
    manifest_version: 1,
    model: { id: 'test', version: '1' },
    feature_set: { schema: 'commerce-v2' },
    files: { model: 'model.onnx' },
    features,
    inputs,
    outputs: { p_ctr: { name: 'p_ctr' }, p_cvr: { name: 'p_cvr' } },
    objective: { kind: 'ctr' },
  });
}

describe('fnv1a32', () => {
  it('matches the published FNV-1a test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('hashes the UTF-8 bytes, including multi-byte and astral characters', () => {
    for (const s of ['é', 'naïve café', '日本語', '😀 emoji', 'a\u0800b', 'x\uffffy']) expect(fnv1a32(s)).toBe(referenceFnv(s));
  });
});

describe('FeatureAssembler', () => {
  const features: FeatureSpec[] = [
    { name: 'seg', kind: 'categorical', from: { source: 'user', field: 'segment' }, vocab: ['a', 'b'] },
    { name: 'item_hash', kind: 'categorical', from: { source: 'item', field: 'id' }, hash_buckets: 16 },
    { name: 'device', kind: 'categorical', from: { source: 'context', field: 'device' }, vocab: ['mobile'] },
    { name: 'price', kind: 'numeric', from: { source: 'item', field: 'price' }, default: 10, transform: { log1p: true, mean: 1, std: 2 } },
    { name: 'rating', kind: 'numeric', from: { source: 'item', field: 'rating' }, default: 3, transform: { clip: [0, 5], mean: 0, std: 1 } },
    {
      name: 'affinity',
      kind: 'cross',
      op: 'map_lookup',
      map: { source: 'user', field: 'aff' },
      key: { source: 'item', field: 'category' },
      default: 1,
      transform: { mean: 0, std: 1 },
    },
    {
      name: 'price_ratio',
      kind: 'cross',
      op: 'log_ratio',
      numerator: { source: 'item', field: 'price' },
      denominator: { source: 'user', field: 'avg_price' },
      default: 0,
      transform: { mean: 0, std: 1 },
    },
    {
      name: 'segment_rate',
      kind: 'cross',
      op: 'map_lookup',
      map: { source: 'item', field: 'rates' },
      key: { source: 'user', field: 'segment' },
      default: 0.5,
      transform: { log1p: true, mean: 0, std: 1 },
    },
  ];
  const manifest = manifestWith(features, [
    { name: 'cat', dtype: 'int32', features: ['seg', 'item_hash', 'device'] },
    { name: 'num', dtype: 'float32', features: ['price', 'rating', 'affinity', 'price_ratio'] },
  ]);

  const slate: SlateRecords = {
    userId: 'u1',
    user: { segment: 'b', aff: { shoes: 2 }, avg_price: 50 },
    context: { device: 'mobile' },
    items: [
      { id: 'i1', stored: { price: 100, rating: 4, category: 'shoes' } },
      { id: 'i2', stored: { price: 100, rating: 9, category: 'hats' }, inline: { price: 25 } },
      { id: 'i3' },
      { id: 'i4', stored: { price: 'cheap', rating: Number.NaN as unknown as number, category: 7 } },
    ],
  };

  it('encodes categoricals by vocabulary (0 = unknown) and by hash', () => {
    const assembler = new FeatureAssembler(manifest);
    const buffers = assembler.allocate(8);
    assembler.fill(slate, buffers);
    const cat = buffers[0]!.data as Int32Array;
    expect(Array.from(cat.subarray(0, 3))).toEqual([2, 1 + (fnv1a32('i1') % 16), 1]);
    expect(cat[1 * 3 + 1]).toBe(1 + (fnv1a32('i2') % 16));
  });

  it('applies defaults, transforms, inline overrides and crosses', () => {
    const assembler = new FeatureAssembler(manifest);
    const buffers = assembler.allocate(4);
    assembler.fill(slate, buffers);
    const values = [0, 1, 2, 3].map((r) => assembler.rowValues(buffers, r));
    expect(values[0]!.price).toBeCloseTo((Math.log1p(100) - 1) / 2, 6);
    expect(values[1]!.price).toBeCloseTo((Math.log1p(25) - 1) / 2, 6); // inline price wins
    expect(values[2]!.price).toBeCloseTo((Math.log1p(10) - 1) / 2, 6); // unknown item: default
    expect(values[1]!.rating).toBe(5); // clipped
    expect(values[0]!.affinity).toBe(2);
    expect(values[1]!.affinity).toBe(1); // category not in the user's map: default
    expect(values[0]!.price_ratio).toBeCloseTo(Math.log(100 / 50), 6);
    expect(values[1]!.price_ratio).toBeCloseTo(Math.log(25 / 50), 6);
    expect(values[2]!.price_ratio).toBe(0);
  });

  it('replaces malformed values by defaults and counts them', () => {
    const assembler = new FeatureAssembler(manifest);
    const buffers = assembler.allocate(4);
    assembler.fill(slate, buffers);
    const row = assembler.rowValues(buffers, 3);
    expect(row.price).toBeCloseTo((Math.log1p(10) - 1) / 2, 6);
    expect(row.rating).toBe(3);
    expect(assembler.counters.invalid).toBeGreaterThanOrEqual(2);
    for (const b of buffers) for (const v of b.data) expect(Number.isFinite(Number(v))).toBe(true);
  });

  it('fills an unknown user with defaults', () => {
    const assembler = new FeatureAssembler(manifest);
    const buffers = assembler.allocate(1);
    assembler.fill({ context: {}, items: [{ id: 'x', stored: { price: 5 } }] }, buffers);
    const row = assembler.rowValues(buffers, 0);
    expect(row.seg).toBe(0);
    expect(row.device).toBe(0);
    expect(row.affinity).toBe(1);
  });

  it('memoizing item columns per stored record (the worker) fills exactly what computing them does, over random slates', () => {
    const withIds = manifestWith(features, [
      { name: 'cat', dtype: 'int32', features: ['seg', 'item_hash', 'device'] },
      { name: 'num', dtype: 'float32', features: ['price', 'rating', 'affinity', 'price_ratio', 'segment_rate'] },
      { name: 'ids', dtype: 'int64', features: ['item_hash', 'seg'] },
    ]);
    const value = fc.oneof(fc.double(), fc.integer({ min: -5, max: 500 }), fc.constantFrom('cheap', 'shoes', 'hats', true, null), fc.constant(undefined));
    // categories mostly among the users' table keys, so table lookups hit, miss and change between slates
    const category = fc.oneof(fc.constantFrom('shoes', 'hats', 'cheap', 7, 42, true), value);
    // items' own tables by user segment; more segments (10) than the memo has slots per table (8)
    const segments = ['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9'];
    const rates = fc.oneof(fc.dictionary(fc.constantFrom(...segments, 'toString'), value), fc.constant('s1'), fc.constant(null));
    const record = fc.record({ price: value, rating: value, category, rates }, { requiredKeys: [] });
    fc.assert(
      fc.property(
        fc.array(record, { minLength: 1, maxLength: 6 }),
        fc.array(fc.array(fc.record({ pick: fc.nat(), inline: fc.option(fc.record({ price: value, rating: value, category, rates, unused: value }, { requiredKeys: [] })), missing: fc.boolean() }), { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 8 }),
        // users whose affinity table (looked up by the item's category) is a table, malformed or absent
        fc.array(fc.option(fc.record({ segment: fc.oneof(fc.constantFrom(...segments), value), aff: fc.oneof(fc.dictionary(fc.constantFrom('shoes', 'hats', 'cheap', '7', '42', 'true', 'toString'), value), fc.constant(['shoes'] as RawValue[]), fc.constant('shoes'), fc.constant(null)), avg_price: value }, { requiredKeys: [] })), { minLength: 1, maxLength: 6 }),
        (pool, slates, users) => {
          const plain = new FeatureAssembler(withIds);
          const memo = new FeatureAssembler(withIds, { memoizeItemColumns: true });
          const [a, b] = [plain.allocate(8), memo.allocate(8)];
          // the same record objects (and users) across slates, as the record cache hands them out
          for (const [s, rows] of slates.entries()) {
            const user = users[s % users.length]!;
            const slate: SlateRecords = {
              userId: 'u1',
              user: user === null ? undefined : user,
              context: { device: 'mobile' },
              items: rows.map((row, i) => ({
                id: `i${i}-${row.pick % pool.length}`,
                ...(row.missing ? {} : { stored: pool[row.pick % pool.length]! }),
                ...(row.inline ? { inline: row.inline } : {}),
              })),
            };
            plain.fill(slate, a);
            memo.fill(slate, b);
            const used = (x: AssembledInput) => Array.from(x.data.subarray(0, rows.length * x.width) as ArrayLike<number | bigint>, String);
            for (let k = 0; k < a.length; k++) expect(used(b[k]!)).toEqual(used(a[k]!));
          }
        },
      ),
      { seed: 7, numRuns: 300 },
    );
  });

  it('memoizes only columns of the item\'s stored fields, recomputing those an item sends inline', () => {
    const memo = new FeatureAssembler(manifest, { memoizeItemColumns: true });
    const stored = { price: 100, rating: 4, category: 'shoes' };
    const buffers = memo.allocate(2);
    memo.fill({ userId: 'u1', user: { aff: { shoes: 2 }, avg_price: 50 }, context: {}, items: [{ id: 'i1', stored }] }, buffers);
    expect(memo.rowValues(buffers, 0).price).toBeCloseTo((Math.log1p(100) - 1) / 2, 6);
    // same record object, now with an inline price: the inline value wins where price is read
    memo.fill({ userId: 'u1', user: { aff: { shoes: 2 }, avg_price: 50 }, context: {}, items: [{ id: 'i1', stored, inline: { price: 25 } }] }, buffers);
    expect(memo.rowValues(buffers, 0).price).toBeCloseTo((Math.log1p(25) - 1) / 2, 6);
    expect(memo.rowValues(buffers, 0).price_ratio).toBeCloseTo(Math.log(25 / 50), 6);
    expect(memo.rowValues(buffers, 0).rating).toBe(4);
    // first seen with an inline price: the memo keeps the record's own price for the next slate
    const fresh = { price: 80, rating: 2, category: 'shoes' };
    memo.fill({ userId: 'u1', user: { aff: { shoes: 2 }, avg_price: 50 }, context: {}, items: [{ id: 'i2', stored: fresh, inline: { price: 10 } }] }, buffers);
    expect(memo.rowValues(buffers, 0).price).toBeCloseTo((Math.log1p(10) - 1) / 2, 6);
    memo.fill({ userId: 'u1', user: { aff: { shoes: 2 }, avg_price: 50 }, context: {}, items: [{ id: 'i2', stored: fresh }] }, buffers);
    expect(memo.rowValues(buffers, 0).price).toBeCloseTo((Math.log1p(80) - 1) / 2, 6);
    expect(memo.rowValues(buffers, 0).rating).toBe(2);
    // a different user with the same record: user-dependent columns follow the user
    memo.fill({ userId: 'u2', user: { aff: { shoes: 3 }, avg_price: 100 }, context: {}, items: [{ id: 'i1', stored }] }, buffers);
    expect(memo.rowValues(buffers, 0).affinity).toBe(3);
    expect(memo.rowValues(buffers, 0).price_ratio).toBeCloseTo(0, 6);
  });

  it('interns table keys up to its capacity; a key past it has no index and is looked up row by row', () => {
    const keys = new KeyInterner(2);
    expect([keys.intern('shoes'), keys.intern('hats'), keys.intern('shoes'), keys.intern('cheap')]).toEqual([1, 2, 1, 0]);
    expect([keys.find('hats'), keys.find('cheap'), keys.size]).toEqual([2, 0, 2]);
  });

  it('writes int64 inputs as BigInt', () => {
    const m = manifestWith(features, [{ name: 'ids', dtype: 'int64', features: ['seg'] }]);
    const assembler = new FeatureAssembler(m);
    const buffers = assembler.allocate(4);
    assembler.fill(slate, buffers);
    expect(buffers[0]!.data).toBeInstanceOf(BigInt64Array);
    expect(buffers[0]!.data[0]).toBe(2n);
  });
});

describe('parseManifest', () => {
  it('names the bad field', () => {
    expect(() =>
      manifestWith(
        [{ name: 'x', kind: 'numeric', from: { source: 'item', field: 'p' }, default: 0, transform: { mean: 0, std: 0 } }],
        [{ name: 'num', dtype: 'float32', features: ['x'] }],
      ),
    ).toThrow(/features\.0\.transform\.std/);
    expect(() =>
      manifestWith(
        [{ name: 'x', kind: 'numeric', from: { source: 'item', field: 'p' }, default: 0, transform: { mean: 0, std: 1 } }],
        [{ name: 'num', dtype: 'float32', features: ['y'] }],
      ),
    ).toThrow(/inputs\.0\.features\.0: unknown feature y/);
    expect(() =>
      manifestWith(
        [{ name: 'x', kind: 'numeric', from: { source: 'item', field: 'p' }, default: 0, transform: { mean: 0, std: 1 } }],
        [{ name: 'ids', dtype: 'int32', features: ['x'] }],
      ),
    ).toThrow(/cannot fill the int32 input/);
  });
});

describe('contextRecord', () => {
  it('derives the hour from the request time, else from now', () => {
    const now = new Date('2026-01-01T05:00:00Z');
    expect(contextRecord({ device: 'mobile', time: '2026-03-01T17:30:00Z' }, now)).toEqual({ device: 'mobile', page: 'unknown', hour: 17 });
    expect(contextRecord(undefined, now).hour).toBe(5);
  });
});

describe('feature statistics from a log', () => {
  const log: Impression[] = [];
  let n = 0;
  for (let r = 0; r < 200; r++) {
    for (let p = 1; p <= 5; p++) {
      const item = `i${p}`;
      // item i1 is always on top and clicked at the top rate; i3 is clicked far above its position's rate
      const clicked = (p === 1 && r % 5 === 0) || (p === 3 && r % 4 === 0) ? 1 : 0;
      log.push({ request_id: `r${r}`, ts: n++, user_id: r % 2 ? 'u1' : 'u2', device: 'mobile', page: 'home', item_id: item, position: p, clicked, purchased: 0, price: 10 * p });
    }
  }
  const curve = new PositionCurve();
  for (const imp of log) curve.add(imp);
  const rates = curve.rates();
  const categories = new Map([['i1', 'a'], ['i2', 'a'], ['i3', 'b'], ['i4', 'b'], ['i5', 'b']]);
  const brands = new Map([['i1', 'x'], ['i2', 'y'], ['i3', 'y'], ['i4', 'y'], ['i5', 'y']]);
  const segments = new Map([['u1', 'odd'], ['u2', 'even']]);
  const stats = new FeatureStatsAccumulator(rates, { itemCategory: categories, itemBrand: brands, userSegment: segments });
  for (const imp of log) stats.add(imp);

  it('estimates a non-increasing position curve', () => {
    for (let b = 2; b < rates.length; b++) expect(rates[b]!).toBeLessThanOrEqual(rates[b - 1]!);
  });

  it('debiases item click rates by position (COEC)', () => {
    const item = (id: string) => stats.itemFeatures({ item_id: id, category: categories.get(id)!, brand: 'b', price: 1, rating: 4, age_days: 1 });
    expect(item('i3').click_coec).toBeGreaterThan(1);
    expect(item('i3').click_coec).toBeGreaterThan(item('i2').click_coec);
    expect(item('unseen').click_coec).toBe(1);
    expect(item('unseen').impressions).toBe(0);
  });

  it('counts an item by user segment and a user by brand', () => {
    const item = (id: string) => stats.itemFeatures({ item_id: id, category: categories.get(id)!, brand: brands.get(id)!, price: 1, rating: 4, age_days: 1 });
    // i3 is clicked only by even requests (u2): its rate with 'even' is above its overall rate, 'odd' below.
    const i3 = item('i3');
    expect(i3.segment_coec.even).toBeGreaterThan(i3.click_coec);
    expect(i3.segment_coec.odd).toBeLessThan(i3.click_coec);
    expect(item('unseen').segment_coec).toEqual({});
    const u2 = stats.userFeatures({ user_id: 'u2', segment: 'even', loyalty_tier: 'none', tenure_days: 3 });
    expect(u2.brand_affinity.y).toBeGreaterThan(u2.brand_affinity.x!);
  });

  it('computes a brand\'s segment affinity once for all its items, and again after more impressions', () => {
    const fresh = new FeatureStatsAccumulator(rates, { itemCategory: categories, itemBrand: brands, userSegment: segments });
    for (const imp of log) fresh.add(imp);
    const item = (id: string) => fresh.itemFeatures({ item_id: id, category: categories.get(id)!, brand: brands.get(id)!, price: 1, rating: 4, age_days: 1 });
    const before = item('i3').brand_segment_affinity;
    expect(item('i4').brand_segment_affinity).toBe(before); // one object per brand
    expect(Object.isFrozen(before)).toBe(true);
    expect(before).toEqual(stats.itemFeatures({ item_id: 'i3', category: 'b', brand: 'y', price: 1, rating: 4, age_days: 1 }).brand_segment_affinity);
    // odd users now click brand y everywhere: the cached value must not survive the new impressions
    for (let r = 0; r < 50; r++) fresh.add({ user_id: 'u1', item_id: 'i4', position: 5, clicked: 1, purchased: 0, price: 40 });
    const after = item('i3').brand_segment_affinity;
    expect(after).not.toBe(before);
    expect(after.odd).toBeGreaterThan(before.odd!);
  });

  it('takes interned ids (the backfill replay) with the same records as ids, and one pair of interners only', () => {
    const interned = new FeatureStatsAccumulator(rates, { itemCategory: categories, itemBrand: brands, userSegment: segments });
    const [users, items] = [new IdInterner(), new IdInterner()];
    // every mix of parts, as the item and user windows give them
    log.forEach((imp, r) => interned.addInterned(users, items, users.of(imp.user_id), items.of(imp.item_id), imp, r % 7 === 0 ? STATS_ITEMS : r % 11 === 0 ? STATS_USERS : STATS_ALL));
    const byIds = new FeatureStatsAccumulator(rates, { itemCategory: categories, itemBrand: brands, userSegment: segments });
    log.forEach((imp, r) => byIds.add(imp, r % 7 === 0 ? STATS_ITEMS : r % 11 === 0 ? STATS_USERS : STATS_ALL));
    for (const id of ['i1', 'i3', 'i5', 'unseen']) {
      const item = { item_id: id, category: categories.get(id) ?? 'a', brand: brands.get(id) ?? 'x', price: 10, rating: 4, age_days: 1 };
      expect(JSON.stringify(interned.itemFeatures(item))).toBe(JSON.stringify(byIds.itemFeatures(item)));
    }
    for (const id of ['u1', 'u2', 'nobody']) {
      const user = { user_id: id, segment: segments.get(id) ?? 's', loyalty_tier: 'none', tenure_days: 3 };
      expect(interned.userRecordJson(user)).toBe(byIds.userRecordJson(user));
    }
    expect(() => interned.addInterned(new IdInterner(), items, 0, 0, log[0]!)).toThrow(/one pair of interners/);
  });

  it('writes an item record as JSON exactly as JSON.stringify(itemFeatures) does, before and after more impressions', () => {
    const fresh = new FeatureStatsAccumulator(rates, { itemCategory: categories, itemBrand: brands, userSegment: segments, categoryMedianPrice: new Map([['a', 15]]) });
    for (const imp of log) fresh.add(imp);
    const items = [
      { item_id: 'i1', category: 'a', brand: 'x', price: 10, rating: 4, age_days: 1 },
      { item_id: 'i3', category: 'b', brand: 'y', price: 30, rating: 3.5, age_days: 9 },
      { item_id: 'unseen', category: 'zz', brand: 'new "brand"', price: 0, rating: 0, age_days: 0 },
    ];
    const same = () => {
      for (const item of items) expect(fresh.itemRecordJson(item)).toBe(JSON.stringify(fresh.itemFeatures(item)));
    };
    same();
    const before = fresh.itemRecordJson(items[1]!);
    for (let r = 0; r < 50; r++) fresh.add({ user_id: 'u1', item_id: 'i4', position: 5, clicked: 1, purchased: 0, price: 40 });
    same(); // the brand's cached JSON went with its cached affinity
    expect(fresh.itemRecordJson(items[1]!)).not.toBe(before);
  });

  it('writes a user record as JSON exactly as JSON.stringify does, with or without history', () => {
    const profiles = [
      { user_id: 'u2', segment: 'even', loyalty_tier: 'gold', tenure_days: 3 },
      { user_id: 'nobody', segment: 'quote "and" \\ é', loyalty_tier: 'none', tenure_days: 0.5 },
      { user_id: 'nobody', segment: 's', loyalty_tier: 'none', tenure_days: Number.NaN },
      { user_id: 'nobody', segment: undefined as unknown as string, loyalty_tier: 'none', tenure_days: 7 },
    ];
    for (const profile of profiles) expect(stats.userRecordJson(profile)).toBe(JSON.stringify(stats.userFeatures(profile)));
  });

  it('gives unseen users prior values and omits an unknown price level', () => {
    const user = stats.userFeatures({ user_id: 'nobody', segment: 's', loyalty_tier: 'none', tenure_days: 3 });
    expect(user.click_coec).toBe(1);
    expect(user.category_affinity).toEqual({});
    expect(user.avg_click_price).toBeUndefined();
    expect(JSON.parse(JSON.stringify(user))).not.toHaveProperty('avg_click_price');
    const known = stats.userFeatures({ user_id: 'u2', segment: 's', loyalty_tier: 'none', tenure_days: 3 });
    expect(known.impressions).toBe(500);
    expect(known.category_affinity.b).toBeGreaterThan(known.category_affinity.a!);
  });
});

describe('round4', () => {
  const byDefinition = (x: number) => (x === 0 || !Number.isFinite(x) ? x : Number(x.toPrecision(4)));

  it('equals Number(x.toPrecision(4)) bit for bit on any double', () => {
    fc.assert(fc.property(fc.double(), (x) => Object.is(round4(x), byDefinition(x))), { numRuns: 100_000 });
    fc.assert(fc.property(fc.double({ min: 1e-6, max: 1e6, noNaN: true }), (x) => Object.is(round4(x), byDefinition(x))), { numRuns: 100_000 });
  });

  it('equals it at ties, at powers of ten and beside them, and on float32 values', () => {
    const values: number[] = [0, -0, Number.NaN, Infinity, -Infinity, Number.MIN_VALUE, Number.MAX_VALUE, 1e-300, 1e300];
    for (let e = -25; e <= 25; e++) {
      for (let m = 1000; m <= 10_000; m += 7) {
        const v = m * 10 ** (e - 3);
        const tie = (m + 0.5) * 10 ** (e - 3);
        values.push(v, -v, v * (1 + 2 ** -52), v * (1 - 2 ** -53), tie, -tie, tie * (1 + 2 ** -52), tie * (1 - 2 ** -53));
      }
    }
    const f32 = new Float32Array(1);
    for (let i = 0; i < 20_000; i++) {
      f32[0] = Math.sin(i) * 7;
      values.push(f32[0], Math.log1p(Math.abs(f32[0])));
    }
    const mismatches = values.filter((x) => !Object.is(round4(x), byDefinition(x)));
    expect(values.length).toBeGreaterThan(100_000);
    expect(mismatches).toEqual([]);
  });
});

describe('price and browsing statistics', () => {
  // Category a's catalog prices have median 10, b's median 100.
  const catalog = [
    { item_id: 'a1', category: 'a', brand: 'x', price: 5, rating: 4, age_days: 1 },
    { item_id: 'a2', category: 'a', brand: 'x', price: 10, rating: 4, age_days: 1 },
    { item_id: 'a3', category: 'a', brand: 'x', price: 20, rating: 4, age_days: 1 },
    { item_id: 'b1', category: 'b', brand: 'y', price: 100, rating: 4, age_days: 1 },
  ];
  const lookups = entityLookups([{ user_id: 'u', segment: 's' }], catalog);
  const impression = (item: string, clicked: 0 | 1, price: number): Impression => ({ request_id: 'r', ts: 0, user_id: 'u', device: 'mobile', page: 'home', item_id: item, position: 1, clicked, purchased: 0, price });

  it('takes each category\'s median catalog price', () => {
    expect(lookups.categoryMedianPrice).toEqual(new Map([['a', 10], ['b', 100]]));
    const prices = new CategoryPrices();
    for (const p of [4, 1, 3, 2]) prices.add('c', p);
    prices.add('c', Number.NaN);
    prices.add('c', 0);
    expect(prices.medians().get('c')).toBe(2.5);
  });

  it('gives an item its log price relative to the category median, and a user the shrunk mean of theirs over clicks', () => {
    const stats = new FeatureStatsAccumulator(new Float64Array(51).fill(0.1), lookups);
    // three impressions in a, one in b; clicks on the dearer a3 (2x the median) and on a1 (half)
    for (const imp of [impression('a3', 1, 20), impression('a3', 1, 20), impression('a1', 1, 5), impression('b1', 0, 100)]) stats.add(imp);
    expect(stats.itemFeatures(catalog[2]!).price_vs_category).toBeCloseTo(Math.log(2), 3);
    expect(stats.itemFeatures({ ...catalog[0]!, category: 'unknown' }).price_vs_category).toBeUndefined();
    const user = stats.userFeatures({ user_id: 'u', segment: 's', loyalty_tier: 'none', tenure_days: 1 });
    // (2 log 2 + log 0.5) over 3 clicks plus 2 pseudo-clicks at the median
    expect(user.relative_click_price).toBeCloseTo(Math.log(2) / 5, 3);
    expect(user.category_share).toEqual({ a: 0.75, b: 0.25 });
    const nobody = stats.userFeatures({ user_id: 'v', segment: 's', loyalty_tier: 'none', tenure_days: 1 });
    expect(nobody.relative_click_price).toBe(0);
    expect(nobody.category_share).toEqual({});
  });

  it('feeds only the statistics an impression is added to', () => {
    const stats = new FeatureStatsAccumulator(new Float64Array(51).fill(0.1), lookups);
    stats.add(impression('a1', 1, 5), STATS_USERS);
    stats.add(impression('b1', 1, 100), STATS_ITEMS);
    const user = stats.userFeatures({ user_id: 'u', segment: 's', loyalty_tier: 'none', tenure_days: 1 });
    expect(user.clicks).toBe(1);
    expect(user.category_share).toEqual({ a: 1 });
    expect(stats.itemFeatures(catalog[0]!).impressions).toBe(0);
    expect(stats.itemFeatures(catalog[3]!).clicks).toBe(1);
  });
});

describe('point-in-time windows', () => {
  it('gives a day\'s slates user records over the longer user window and item records over the item window', () => {
    const day = 86_400_000;
    const users = new Map([['u', { user_id: 'u', segment: 's', loyalty_tier: 'none', tenure_days: 1 }]]);
    const items = new Map([['i', { item_id: 'i', category: 'a', brand: 'x', price: 10, rating: 4, age_days: 1 }]]);
    const at = (d: number, request: string): Impression => ({ request_id: request, ts: d * day + 1000, user_id: 'u', device: 'mobile', page: 'home', item_id: 'i', position: 1, clicked: 1, purchased: 0, price: 10 });
    // clicks on days 0 (in the user window of day 20 only) and 15 (in both), then the evaluated slate on day 20
    const log = [at(0, 'r0'), at(15, 'r15'), at(20, 'r20')];
    const [slate, ...rest] = [...pointInTimeSlates(log, { users, items }, { originTs: 0, fromTs: 20 * day, toTs: 21 * day, windowDays: 7, userWindowDays: 28 })];
    expect(rest).toEqual([]);
    expect(slate!.requestId).toBe('r20');
    expect(slate!.user?.clicks).toBe(2);
    expect(slate!.items[0]!.stored?.clicks).toBe(1);
  });
});

describe('fitFeatures', () => {
  it('fits vocabularies by frequency and standardises numeric columns', () => {
    const template = {
      features: [
        { name: 'seg', kind: 'categorical', from: { source: 'user', field: 'segment' }, vocab: [] },
        { name: 'price', kind: 'numeric', from: { source: 'item', field: 'price' }, default: 0, transform: { mean: 0, std: 1 } },
      ] satisfies FeatureSpec[],
      inputs: [
        { name: 'cat', dtype: 'int32', features: ['seg'] },
        { name: 'num', dtype: 'float32', features: ['price'] },
      ] satisfies ModelInput[],
    };
    const slates: SlateRecords[] = [];
    for (let i = 0; i < 100; i++) {
      slates.push({ user: { segment: i % 10 === 0 ? 'rare' : i % 3 ? 'common' : 'mid' }, context: {}, items: [{ id: 'a', stored: { price: i } }] });
    }
    const fitted = fitFeatures(template, slates, { minCount: 11 });
    const seg = fitted[0]!;
    expect(seg.kind === 'categorical' && seg.vocab).toEqual(['common', 'mid']);
    const price = fitted[1]!;
    expect(price.kind === 'numeric' && price.transform.mean).toBeCloseTo(49.5, 4);
    expect(price.kind === 'numeric' && price.transform.std).toBeCloseTo(29.0115, 3);
  });
});
