// The rank request's fast path (worker/rank/fast-parse.ts) must never accept what zod rejects, and
// must return what zod would (deep-equal) for what it accepts. Checked on hand-picked edge cases and
// on a few thousand seeded random mutations of a valid request.
import { describe, expect, it } from 'vitest';
import { fastParseRankRequest } from '../../worker/rank/fast-parse.ts';
import { rankRequestSchema } from '../../worker/rank/schema.ts';

function agrees(body: unknown): 'fast' | 'zod-only' {
  const fast = fastParseRankRequest(body);
  const zod = rankRequestSchema.safeParse(body);
  if (fast === undefined) return 'zod-only';
  expect(zod.success, `fast path accepted what zod rejects: ${JSON.stringify(body).slice(0, 300)}`).toBe(true);
  expect(fast).toEqual(zod.data);
  return 'fast';
}

const valid = () => ({
  request_id: 'r-1',
  user_id: 'u000017',
  context: { device: 'mobile', page: 'search', locale: 'de-DE', query: 'shoes', category: 'fashion', time: 1_772_400_000_000, campaign: 'x', ab: true, n: 3, none: null },
  items: [{ id: 'i1', price: 19.99 }, { id: 'i2' }, { id: 'i3', price: 0, color: 'red', stock: 4, sale: false, tag: null }],
  k: 2,
  explain: false,
});

describe('fastParseRankRequest', () => {
  it('takes well-formed requests, including the smallest and the largest', () => {
    expect(agrees(valid())).toBe('fast');
    expect(agrees({ items: [{ id: 'a' }] })).toBe('fast');
    expect(agrees({ items: Array.from({ length: 500 }, (_, i) => ({ id: `i${i}`, price: i })) })).toBe('fast');
    const wide: Record<string, unknown> = { id: 'a' };
    for (let i = 0; i < 31; i++) wide[`f${i}`] = i;
    expect(agrees({ items: [wide] })).toBe('fast');
  });

  it('leaves everything doubtful to zod', () => {
    const cases: unknown[] = [
      null,
      [],
      'x',
      {},
      { items: [] },
      { items: Array.from({ length: 501 }, (_, i) => ({ id: `i${i}` })) },
      { items: [{ id: 'a' }, { id: 'a' }] },
      { items: [{ id: '' }] },
      { items: [{ id: 'x'.repeat(129) }] },
      { items: [{ id: 7 }] },
      { items: [{ price: 3 }] },
      { items: [{ id: 'a', price: -1 }] },
      { items: [{ id: 'a', price: 1e10 }] },
      { items: [{ id: 'a', price: '3' }] },
      { items: [{ id: 'a', nested: { x: 1 } }] },
      { items: [{ id: 'a', list: [1] }] },
      { items: [{ id: 'a', long: 'x'.repeat(257) }] },
      { items: [{ id: 'a', big: 2e12 }] },
      { items: [Object.fromEntries([['id', 'a'], ...Array.from({ length: 32 }, (_, i) => [`f${i}`, i])])] },
      { items: [null] },
      { items: [['id', 'a']] },
      { items: {} },
      { items: [{ id: 'a' }], extra: 1 },
      { items: [{ id: 'a' }], k: 0 },
      { items: [{ id: 'a' }], k: 1.5 },
      { items: [{ id: 'a' }], k: 501 },
      { items: [{ id: 'a' }], explain: 'yes' },
      { items: [{ id: 'a' }], user_id: '' },
      { items: [{ id: 'a' }], request_id: null },
      { items: [{ id: 'a' }], context: null },
      { items: [{ id: 'a' }], context: { device: 3 } },
      { items: [{ id: 'a' }], context: { time: '2026-03-02T19:15:00Z' } },
      { items: [{ id: 'a' }], context: { time: 'yesterday' } },
      { items: [{ id: 'a' }], context: { time: -1 } },
      { items: [{ id: 'a' }], context: { time: 1.5 } },
      { items: [{ id: 'a' }], context: { deep: { x: 1 } } },
      JSON.parse('{"items":[{"id":"a","__proto__":{"x":1}}]}'),
      JSON.parse('{"items":[{"id":"a"}],"__proto__":{"k":1}}'),
    ];
    for (const body of cases) expect(agrees(body), JSON.stringify(body)?.slice(0, 200)).toBe('zod-only');
  });

  it('agrees with zod on thousands of random mutations', () => {
    let seed = 42;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const pick = <T>(values: T[]): T => values[Math.floor(rnd() * values.length)]!;
    const odd = () =>
      pick<unknown>([undefined, null, '', 'x', 'y'.repeat(300), 0, -0, 1, -5, 1.5, 1e9, 2e9, 1e13, true, false, {}, [], { a: 1 }, '2026-03-02T19:15:00Z', 8.64e15, 9e15]);
    let fast = 0;
    for (let t = 0; t < 5_000; t++) {
      const body = valid() as Record<string, any>;
      const mutations = 1 + Math.floor(rnd() * 3);
      for (let m = 0; m < mutations; m++) {
        const where = Math.floor(rnd() * 5);
        if (where === 0) body[pick(['request_id', 'user_id', 'context', 'k', 'explain', 'items', 'other'])] = odd();
        else if (where === 1 && typeof body.context === 'object' && body.context) body.context[pick(['device', 'page', 'time', 'x', 'locale'])] = odd();
        else if (Array.isArray(body.items)) {
          const item = body.items[Math.floor(rnd() * body.items.length)];
          if (where === 2 && item && typeof item === 'object') item[pick(['id', 'price', 'color', 'n'])] = odd();
          else if (where === 3) body.items.push({ id: pick(['i1', 'i9', 'i10']) });
          else delete body[pick(['request_id', 'user_id', 'context', 'k', 'explain'])];
        }
      }
      for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
      // Round-trip through JSON: the route only ever sees JSON.parse output.
      if (agrees(JSON.parse(JSON.stringify(body))) === 'fast') fast++;
    }
    // Both kinds occurred, so the comparison above means something.
    expect(fast).toBeGreaterThan(500);
    expect(fast).toBeLessThan(4_900);
  });
});

describe('fastParseRankRequest with rules', () => {
  const withRules = () => ({
    items: [{ id: 'i1', price: 5, category: 'shoes', in_stock: true }, { id: 'i2', group: 'g' }, { id: 'i3' }],
    k: 2,
    rules: {
      filter: [{ field: 'in_stock', op: 'eq', value: false }, { ids: ['i9'] }],
      boost: [{ field: 'category', op: 'in', value: ['shoes', 'bags'], factor: 2 }, { ids: ['i3'], factor: 0.5 }, { field: 'price', op: 'lt', value: 10, factor: 1.5 }],
      pin: [{ id: 'i3', position: 1 }],
      diversity: { field: 'category', max: 1, top_k: 2 },
      dedupe: { field: 'group' },
    },
  });

  it('takes well-formed rules', () => {
    expect(agrees(withRules())).toBe('fast');
    expect(agrees({ items: [{ id: 'a' }], rules: {} })).toBe('fast');
    expect(agrees({ items: [{ id: 'a' }], rules: { filter: [{ field: 'x', op: 'eq', value: null }] } })).toBe('fast');
  });

  it('leaves doubtful rules to zod', () => {
    const cases: unknown[] = [
      { items: [{ id: 'a' }], rules: null },
      { items: [{ id: 'a' }], rules: [] },
      { items: [{ id: 'a' }], rules: { sort: 'price' } },
      { items: [{ id: 'a' }], rules: { pin: [{ id: 'zz', position: 1 }] } }, // not among the items
      { items: [{ id: 'a' }, { id: 'b' }], rules: { pin: [{ id: 'a', position: 1 }, { id: 'b', position: 1 }] } },
      { items: [{ id: 'a' }], rules: { pin: [{ id: 'a', position: 1 }, { id: 'a', position: 2 }] } },
      { items: [{ id: 'a' }], rules: { pin: [{ id: 'a' }] } },
      { items: [{ id: 'a' }], rules: { pin: [{ id: 'a', position: 501 }] } },
      { items: [{ id: 'a' }], rules: { pin: [{ id: 'a', position: 1, x: 1 }] } },
      { items: [{ id: 'a' }], rules: { filter: [{}] } },
      { items: [{ id: 'a' }], rules: { filter: [{ ids: [] }] } },
      { items: [{ id: 'a' }], rules: { filter: [{ ids: ['a'], op: 'eq' }] } },
      { items: [{ id: 'a' }], rules: { filter: [{ field: 'x', op: 'lt', value: 'y' }] } },
      { items: [{ id: 'a' }], rules: { filter: [{ field: 'x', op: 'in', value: [] }] } },
      { items: [{ id: 'a' }], rules: { filter: [{ field: 'x', op: 'in', value: 1 }] } },
      { items: [{ id: 'a' }], rules: { filter: [{ field: 'x', op: 'eq', value: [1] }] } },
      { items: [{ id: 'a' }], rules: { filter: [{ field: 'x', op: 'like', value: 1 }] } },
      { items: [{ id: 'a' }], rules: { filter: [{ field: '1x', op: 'eq', value: 1 }] } },
      { items: [{ id: 'a' }], rules: { filter: [{ field: 'x', op: 'eq', value: { y: 1 } }] } },
      { items: [{ id: 'a' }], rules: { boost: [{ ids: ['a'] }] } },
      { items: [{ id: 'a' }], rules: { boost: [{ ids: ['a'], factor: 0 }] } },
      { items: [{ id: 'a' }], rules: { boost: [{ ids: ['a'], factor: 1001 }] } },
      { items: [{ id: 'a' }], rules: { diversity: { field: 'c' } } },
      { items: [{ id: 'a' }], rules: { diversity: { field: 'c', max: 1, top_k: 0 } } },
      { items: [{ id: 'a' }], rules: { dedupe: {} } },
      { items: [{ id: 'a' }], rules: { dedupe: { field: 'g', x: 1 } } },
      { items: [{ id: 'a' }], rules: { filter: Array.from({ length: 33 }, () => ({ ids: ['a'] })) } },
    ];
    for (const body of cases) expect(agrees(body), JSON.stringify(body)?.slice(0, 200)).toBe('zod-only');
  });

  it('agrees with zod on thousands of random mutations of the rules', () => {
    let seed = 7;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const pick = <T>(values: T[]): T => values[Math.floor(rnd() * values.length)]!;
    const odd = () => pick<unknown>([undefined, null, '', 'x', 'i1', 'i9', 'y'.repeat(300), 0, 1, -1, 1.5, 500, 501, 1e3, 1001, true, false, {}, [], ['i1'], [1, 2], [[1]], 'eq', 'in', 'lt', 'like', 'category', 'bad field']);
    let fast = 0;
    for (let t = 0; t < 5_000; t++) {
      const body = withRules() as Record<string, any>;
      const rules = body.rules as Record<string, any>;
      const mutations = 1 + Math.floor(rnd() * 2);
      for (let m = 0; m < mutations; m++) {
        const where = Math.floor(rnd() * 7);
        if (where === 0) rules[pick(['filter', 'boost', 'pin', 'diversity', 'dedupe', 'other'])] = odd();
        else if (where === 1 && Array.isArray(rules.filter)) {
          const entry = rules.filter[Math.floor(rnd() * rules.filter.length)];
          if (entry && typeof entry === 'object') entry[pick(['ids', 'field', 'op', 'value', 'factor'])] = odd();
        } else if (where === 2 && Array.isArray(rules.boost)) {
          const entry = rules.boost[Math.floor(rnd() * rules.boost.length)];
          if (entry && typeof entry === 'object') entry[pick(['ids', 'field', 'op', 'value', 'factor'])] = odd();
        } else if (where === 3 && Array.isArray(rules.pin)) {
          if (rnd() < 0.5) rules.pin.push({ id: pick(['i1', 'i2', 'i3', 'i9']), position: pick([1, 2, 3, 0]) });
          else if (rules.pin[0] && typeof rules.pin[0] === 'object') rules.pin[0][pick(['id', 'position', 'x'])] = odd();
        } else if (where === 4 && rules.diversity && typeof rules.diversity === 'object') rules.diversity[pick(['field', 'max', 'top_k', 'x'])] = odd();
        else if (where === 5 && rules.dedupe && typeof rules.dedupe === 'object') rules.dedupe[pick(['field', 'x'])] = odd();
        else delete rules[pick(['filter', 'boost', 'pin', 'diversity', 'dedupe'])];
      }
      if (agrees(JSON.parse(JSON.stringify(body))) === 'fast') fast++;
    }
    expect(fast).toBeGreaterThan(500);
    expect(fast).toBeLessThan(4_900);
  });
});
