// Objectives (worker/rank/objective.ts) and business rules (worker/rank/rules.ts) as pure
// functions: compilation, validation errors that name the field, each rule, and their order.
import { describe, expect, it } from 'vitest';
import type { RawValue } from '../../model/features/records.ts';
import { compileObjective, objectiveScores, parseArmObjective } from '../../worker/rank/objective.ts';
import { applyRules, compileRules, rulesSchema, type RuleContext, type Rules } from '../../worker/rank/rules.ts';

const f32 = (values: number[]) => Float32Array.from(values);
const f64 = (values: number[]) => Float64Array.from(values);

describe('objectives', () => {
  const pCtr = f32([0.1, 0.2, 0.4]);
  const pCvr = f32([0.5, 0.25, 0.1]);
  const prices = f64([10, 20, Number.NaN]);

  function scores(spec: unknown): number[] {
    const compiled = compileObjective(parseArmObjective(spec));
    const out = new Float64Array(3);
    compiled.score(pCtr, pCvr, prices, out);
    return Array.from(out);
  }

  it('compiles ctr, ctcvr, expected revenue and a blend into the documented formulas', () => {
    const c = Array.from(pCtr);
    const v = Array.from(pCvr);
    const median = 15; // the missing price is the median of the known ones
    const price = [10, 20, median];
    expect(scores({ kind: 'ctr' })).toEqual(c);
    scores({ kind: 'ctcvr' }).forEach((s, i) => expect(s).toBeCloseTo(c[i]! * v[i]!, 12));
    scores({ kind: 'expected_revenue', price_exponent: 0.5 }).forEach((s, i) => expect(s).toBeCloseTo(c[i]! * v[i]! * Math.sqrt(price[i]!), 12));
    scores({ kind: 'blend', w_ctr: 2, w_ctcvr: 3, w_rev: 0.5, price_exponent: 1 }).forEach((s, i) =>
      expect(s).toBeCloseTo(2 * c[i]! + 3 * c[i]! * v[i]! + 0.5 * c[i]! * v[i]! * price[i]!, 12),
    );
    // a blend with only w_rev is expected revenue
    expect(scores({ kind: 'blend', w_rev: 1 })).toEqual(scores({ kind: 'expected_revenue', price_exponent: 1 }));
  });

  it('keeps the manifest-objective entry point (objectiveScores) equal to the compiled one', () => {
    expect(Array.from(objectiveScores({ kind: 'expected_revenue', price_exponent: 1 }, pCtr, pCvr, prices))).toEqual(scores({ kind: 'expected_revenue', price_exponent: 1 }));
  });

  it('reports which price it used (the median for a missing one) only when it uses prices', () => {
    expect(Array.from(compileObjective({ kind: 'expected_revenue', price_exponent: 1 }).effectivePrices(prices)!)).toEqual([10, 20, 15]);
    expect(compileObjective({ kind: 'ctr' }).effectivePrices(prices)).toBeUndefined();
    expect(compileObjective(parseArmObjective({ kind: 'blend', w_ctr: 1 })).usesPrice).toBe(false);
  });

  it('rejects bad objectives with a message naming the field', () => {
    const error = (v: unknown) => {
      try {
        parseArmObjective(v, 'arms[1].objective');
      } catch (e) {
        return (e as Error).message;
      }
      return 'accepted';
    };
    expect(error({ kind: 'blend' })).toMatch(/^arms\[1\]\.objective: a blend needs at least one weight > 0/);
    expect(error({ kind: 'blend', w_ctr: -1 })).toMatch(/^arms\[1\]\.objective\.w_ctr: must be >= 0/);
    expect(error({ kind: 'expected_revenue' })).toMatch(/^arms\[1\]\.objective\.price_exponent:/);
    expect(error({ kind: 'expected_revenue', price_exponent: 3 })).toMatch(/^arms\[1\]\.objective\.price_exponent:/);
    expect(error({ kind: 'revenue' })).toMatch(/^arms\[1\]\.objective\.kind: .*expected_revenue/);
    expect(error({ kind: 'ctr', w: 1 })).toMatch(/Unrecognized key/);
    expect(error('p_ctr * price')).toMatch(/expected object/);
  });
});

// ---------------------------------------------------------------------------------------------

interface Row {
  id: string;
  [field: string]: RawValue | undefined;
}

/** A rule context over rows given as inline values plus an optional "stored" record each. */
function contextOf(rows: Row[], stored: Array<Record<string, RawValue> | undefined> = []): RuleContext {
  return {
    n: rows.length,
    id: (r) => rows[r]!.id,
    value: (r, field) => (rows[r]![field] !== undefined ? rows[r]![field] : stored[r]?.[field]),
  };
}

function rank(rows: Row[], scores: number[], rules: Rules, options: { k?: number; stored?: Array<Record<string, RawValue> | undefined> } = {}) {
  const parsed = rulesSchema.parse(rules);
  const outcome = applyRules(contextOf(rows, options.stored), f64(scores), compileRules(parsed), { k: options.k, trace: true });
  return { ids: outcome.order.map((r) => rows[r]!.id), outcome };
}

const six: Row[] = [
  { id: 'a', category: 'shoes', group: 'g1' },
  { id: 'b', category: 'shoes', group: 'g1' },
  { id: 'c', category: 'shoes' },
  { id: 'd', category: 'bags', group: 'g2' },
  { id: 'e', category: 'bags', group: 'g2' },
  { id: 'f', category: 'hats' },
];
const descending = [6, 5, 4, 3, 2, 1];

describe('business rules, one at a time', () => {
  it('without rules: the objective order, ties in request order', () => {
    expect(rank(six, [1, 2, 2, 0, 5, 1], {}).ids).toEqual(['e', 'b', 'c', 'a', 'f', 'd']);
  });

  it('filter: by an explicit id list, by an inline field and by a stored field', () => {
    expect(rank(six, descending, { filter: [{ ids: ['b', 'e'] }] }).ids).toEqual(['a', 'c', 'd', 'f']);
    expect(rank(six, descending, { filter: [{ field: 'category', op: 'eq', value: 'shoes' }] }).ids).toEqual(['d', 'e', 'f']);
    const stock = [{ in_stock: true }, { in_stock: false }, undefined, { in_stock: false }, { in_stock: true }, { in_stock: true }];
    const { ids, outcome } = rank(six, descending, { filter: [{ field: 'in_stock', op: 'eq', value: false }] }, { stored: stock });
    expect(ids).toEqual(['a', 'c', 'e', 'f']); // c has no in_stock: not filtered
    expect(outcome.removed).toEqual([
      { id: 'b', rule: 'filter', detail: 'in_stock eq false' },
      { id: 'd', rule: 'filter', detail: 'in_stock eq false' },
    ]);
    // an inline value wins over the stored one
    const inline = six.map((r, i) => (i === 1 ? { ...r, in_stock: true } : r));
    expect(rank(inline, descending, { filter: [{ field: 'in_stock', op: 'eq', value: false }] }, { stored: stock }).ids).toEqual(['a', 'b', 'c', 'e', 'f']);
  });

  it('filter ops: ne, in, not_in, lt/lte/gt/gte; a missing field never matches', () => {
    const rows: Row[] = [{ id: 'p', price: 5 }, { id: 'q', price: 10 }, { id: 'r', price: 20 }, { id: 's' }];
    const kept = (rule: Rules['filter']) => rank(rows, [4, 3, 2, 1], { filter: rule }).ids;
    expect(kept([{ field: 'price', op: 'lt', value: 10 }])).toEqual(['q', 'r', 's']);
    expect(kept([{ field: 'price', op: 'lte', value: 10 }])).toEqual(['r', 's']);
    expect(kept([{ field: 'price', op: 'gt', value: 10 }])).toEqual(['p', 'q', 's']);
    expect(kept([{ field: 'price', op: 'gte', value: 10 }])).toEqual(['p', 's']);
    expect(kept([{ field: 'price', op: 'ne', value: 10 }])).toEqual(['q', 's']);
    expect(kept([{ field: 'price', op: 'in', value: [5, 20] }])).toEqual(['q', 's']);
    expect(kept([{ field: 'price', op: 'not_in', value: [5, 20] }])).toEqual(['p', 'r', 's']);
    expect(kept([{ field: 'id', op: 'eq', value: 'q' }])).toEqual(['p', 'r', 's']);
  });

  it('boost and bury multiply the score; several matching entries multiply; the trace says from -> to', () => {
    const { ids, outcome } = rank(six, descending, {
      boost: [
        { ids: ['f'], factor: 10 },
        { field: 'category', op: 'eq', value: 'hats', factor: 2 },
        { ids: ['a'], factor: 0.1 },
      ],
    });
    expect(ids).toEqual(['f', 'b', 'c', 'd', 'e', 'a']);
    expect(outcome.multiplier[5]).toBe(20);
    expect(outcome.score[5]).toBe(20);
    expect(outcome.score[0]).toBeCloseTo(0.6, 12);
    expect(outcome.moves!.get(5)).toEqual([{ rule: 'boost', factor: 20, from: 6, to: 1 }]);
    expect(outcome.moves!.get(0)).toEqual([{ rule: 'boost', factor: 0.1, from: 1, to: 6 }]);
    expect(outcome.moves!.has(1)).toBe(false); // shifted, not moved by a rule
  });

  it('dedupe keeps the best-ranked item of each group; items without the field are kept', () => {
    const { ids, outcome } = rank(six, [1, 6, 5, 4, 3, 2], { dedupe: { field: 'group' } });
    expect(ids).toEqual(['b', 'c', 'd', 'f']);
    expect(outcome.removed.map((r) => [r.id, r.rule])).toEqual([
      ['e', 'dedupe'],
      ['a', 'dedupe'],
    ]);
    expect(outcome.removed[1]!.detail).toBe('group = "g1", kept b');
  });

  it('diversity caps items per value within the top k; the deferred ones keep their order below it', () => {
    // shoes a, b, c lead; at most 2 shoes in the top 4
    const { ids, outcome } = rank(six, descending, { diversity: { field: 'category', max: 2, top_k: 4 } });
    expect(ids).toEqual(['a', 'b', 'd', 'e', 'c', 'f']);
    expect(outcome.moves!.get(2)).toEqual([{ rule: 'diversity', from: 3, to: 5 }]);
    // the window defaults to the request's k
    expect(rank(six, descending, { diversity: { field: 'category', max: 1 } }, { k: 3 }).ids).toEqual(['a', 'd', 'f', 'b', 'c', 'e']);
    // and to the whole slate without k
    expect(rank(six, descending, { diversity: { field: 'category', max: 1 } }).ids).toEqual(['a', 'd', 'f', 'b', 'c', 'e']);
  });

  it('pins put items at 1-based positions; beyond the end means last', () => {
    const { ids, outcome } = rank(six, descending, {
      pin: [
        { id: 'f', position: 1 },
        { id: 'a', position: 99 },
      ],
    });
    expect(ids).toEqual(['f', 'b', 'c', 'd', 'e', 'a']);
    expect(outcome.moves!.get(5)).toEqual([{ rule: 'pin', from: 6, to: 1 }]);
    expect(outcome.moves!.get(0)).toEqual([{ rule: 'pin', from: 1, to: 6 }]);
    expect([...outcome.pinned].sort()).toEqual([0, 5]);
  });
});

describe('business rules, together: filter -> boost -> order -> dedupe -> diversity -> pin', () => {
  it('a filtered item is never shown, even when pinned', () => {
    expect(rank(six, descending, { filter: [{ ids: ['c'] }], pin: [{ id: 'c', position: 1 }] }).ids).toEqual(['a', 'b', 'd', 'e', 'f']);
  });

  it('dedupe sees boosted scores; a pinned item wins its group', () => {
    // boost e over d, then dedupe g2 keeps e
    expect(rank(six, descending, { boost: [{ ids: ['e'], factor: 4 }], dedupe: { field: 'group' } }).ids).toEqual(['e', 'a', 'c', 'f']);
    // pinning b keeps b for g1 although a scores higher
    expect(rank(six, descending, { dedupe: { field: 'group' }, pin: [{ id: 'b', position: 3 }] }).ids).toEqual(['c', 'd', 'b', 'f']);
  });

  it('diversity runs after dedupe and before pins (a pin may exceed the cap)', () => {
    const { ids } = rank(six, descending, { dedupe: { field: 'group' }, diversity: { field: 'category', max: 1, top_k: 3 }, pin: [{ id: 'c', position: 2 }] });
    // dedupe: a, c, d, f; pinned c leaves; diversity over a, d, f: all distinct; pin c at 2
    expect(ids).toEqual(['a', 'c', 'd', 'f']);
  });

  it('merges config rules with the request: filters and boosts add, request pins win conflicts, request diversity replaces', () => {
    const config = rulesSchema.parse({ filter: [{ ids: ['a'] }], boost: [{ ids: ['f'], factor: 100 }], pin: [{ id: 'b', position: 1 }, { id: 'c', position: 2 }], diversity: { field: 'category', max: 1 } });
    const request = rulesSchema.parse({ filter: [{ ids: ['e'] }], pin: [{ id: 'd', position: 1 }] });
    const merged = compileRules(config, request);
    expect(merged.filter).toHaveLength(2);
    expect(merged.boost).toHaveLength(1);
    expect(merged.pin).toEqual([{ id: 'd', position: 1 }, { id: 'c', position: 2 }]);
    const outcome = applyRules(contextOf(six), f64(descending), merged);
    expect(outcome.order.map((r) => six[r]!.id)).toEqual(['d', 'c', 'f', 'b']);
  });
});

describe('rules validation', () => {
  const message = (rules: unknown) => {
    const result = rulesSchema.safeParse(rules);
    return result.success ? 'ok' : `${result.error.issues[0]!.path.join('.')}: ${result.error.issues[0]!.message}`;
  };

  it('names the bad field', () => {
    expect(message({ filter: [{ ids: ['a'], field: 'x', op: 'eq', value: 1 }] })).toMatch(/^filter\.0: needs exactly one of ids or field/);
    expect(message({ filter: [{ field: 'price', op: 'lt', value: 'cheap' }] })).toMatch(/^filter\.0\.value: must be a number for op lt/);
    expect(message({ filter: [{ field: 'price', op: 'in', value: 3 }] })).toMatch(/^filter\.0\.value: must be a list/);
    expect(message({ filter: [{ field: 'price' }] })).toMatch(/^filter\.0\.op: is required/);
    expect(message({ filter: [{ field: 'a.b', op: 'eq', value: 1 }] })).toMatch(/^filter\.0\.field: must be a field name/);
    expect(message({ boost: [{ ids: ['a'], factor: 0 }] })).toMatch(/^boost\.0\.factor: must be > 0/);
    expect(message({ boost: [{ ids: ['a'], factor: 1e4 }] })).toMatch(/^boost\.0\.factor: must be at most 1000/);
    expect(message({ pin: [{ id: 'a', position: 1 }, { id: 'b', position: 1 }] })).toMatch(/^pin\.1\.position: position 1 is already taken \(pin\[0\]\)/);
    expect(message({ pin: [{ id: 'a', position: 1 }, { id: 'a', position: 2 }] })).toMatch(/^pin\.1\.id: 'a' is already pinned/);
    expect(message({ pin: [{ id: 'a', position: 0 }] })).toMatch(/^pin\.0\.position/);
    expect(message({ diversity: { field: 'category', max: 0 } })).toMatch(/^diversity\.max/);
    expect(message({ filter: Array.from({ length: 33 }, () => ({ ids: ['a'] })) })).toMatch(/^filter: must hold at most 32 entries/);
    expect(message({ filter: [{ ids: Array.from({ length: 501 }, (_, i) => `i${i}`) }] })).toMatch(/^filter\.0\.ids: must hold at most 500 ids/);
    expect(message({ sort: 'price' })).toMatch(/Unrecognized key/);
    expect(message({ filter: [{ field: 'in_stock', op: 'eq', value: false }], boost: [{ field: 'brand', op: 'in', value: ['x', 'y'], factor: 1.5 }], pin: [{ id: 'a', position: 2 }], diversity: { field: 'category', max: 2, top_k: 10 }, dedupe: { field: 'group' } })).toBe('ok');
  });
});
