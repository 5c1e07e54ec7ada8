// Business rules: what a storefront (in the request) or an experiment arm (in the config) asks of a
// slate beyond the objective. They run after scoring, in this order (README, "Objectives and
// business rules"):
//
//   1. filter     drop every item that matches any filter entry (e.g. out of stock)
//   2. boost      multiply the score of every item an entry matches by its factor (< 1 buries);
//                 several matching entries multiply
//   3. order      by the adjusted score, descending; ties keep the request order
//   4. dedupe     of items sharing a value of the dedupe field (e.g. `group` or `variant_of`: the
//                 colours of one product), keep the best-ranked one (a pinned one wins its group)
//   5. diversity  at most `max` items per value of `field` (e.g. category) within the top `top_k`
//                 (default: the request's k, else the whole slate); the items that would exceed it
//                 move below the top_k, keeping their order
//   6. pin        put an item at a 1-based position (after everything else, so a pin may exceed a
//                 diversity cap); a pin beyond the end of the slate puts the item last; filters win
//                 over pins (a filtered item is never shown)
//   7. k          cut to the top k (the caller's step)
//
// A field condition reads the item's inline field first, then its stored (KV) record, like the
// feature assembler; `id` is the item id. A condition on a field the item does not carry never
// matches (not even `ne` or `not_in`): rules only act on what is known about an item.
import { z } from 'zod';
import type { RawValue } from '../../model/features/records.ts';

export const MAX_RULE_ENTRIES = 32;
export const MAX_RULE_IDS = 500;
export const MAX_RULE_VALUES = 100;
export const MAX_PINS = 50;
export const MAX_RULE_POSITION = 500;
export const MAX_BOOST_FACTOR = 1000;
export const RULE_OPS = ['eq', 'ne', 'in', 'not_in', 'lt', 'lte', 'gt', 'gte'] as const;
export type RuleOp = (typeof RULE_OPS)[number];
/** item field names a rule may name: inline fields and stored record fields */
export const RULE_FIELD = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const MAX_ID = 128;
const MAX_STRING = 256;

const ruleId = z.string().min(1, 'must not be empty').max(MAX_ID, `must be at most ${MAX_ID} characters`);
const fieldName = z.string().regex(RULE_FIELD, 'must be a field name (letters, digits, _; at most 64 characters)');
const scalar = z.union([z.string().max(MAX_STRING), z.number().finite(), z.boolean(), z.null()]);

const matcherFields = {
  ids: z.array(ruleId).min(1, 'must hold at least 1 id').max(MAX_RULE_IDS, `must hold at most ${MAX_RULE_IDS} ids`).optional(),
  field: fieldName.optional(),
  op: z.enum(RULE_OPS).optional(),
  value: z.union([scalar, z.array(scalar).min(1, 'must hold at least 1 value').max(MAX_RULE_VALUES, `must hold at most ${MAX_RULE_VALUES} values`)]).optional(),
};

interface MatcherInput {
  ids?: string[] | undefined;
  field?: string | undefined;
  op?: RuleOp | undefined;
  value?: RawValue | undefined;
}

/** An entry matches either an explicit id list or one field condition: {field, op, value}. */
function checkMatcher(m: MatcherInput, ctx: z.RefinementCtx): void {
  if ((m.ids === undefined) === (m.field === undefined)) {
    ctx.addIssue({ code: 'custom', message: 'needs exactly one of ids or field (with op and value)' });
    return;
  }
  if (m.ids !== undefined) {
    if (m.op !== undefined) ctx.addIssue({ code: 'custom', path: ['op'], message: 'op goes with field, not ids' });
    if (m.value !== undefined) ctx.addIssue({ code: 'custom', path: ['value'], message: 'value goes with field, not ids' });
    return;
  }
  if (m.op === undefined) {
    ctx.addIssue({ code: 'custom', path: ['op'], message: `is required with field: one of ${RULE_OPS.join(', ')}` });
    return;
  }
  if (m.value === undefined) {
    ctx.addIssue({ code: 'custom', path: ['value'], message: 'is required with field' });
    return;
  }
  const list = Array.isArray(m.value);
  if (m.op === 'in' || m.op === 'not_in') {
    if (!list) ctx.addIssue({ code: 'custom', path: ['value'], message: `must be a list of values for op ${m.op}` });
  } else if (list) {
    ctx.addIssue({ code: 'custom', path: ['value'], message: `must be a single value for op ${m.op}` });
  } else if (m.op !== 'eq' && m.op !== 'ne' && typeof m.value !== 'number') {
    ctx.addIssue({ code: 'custom', path: ['value'], message: `must be a number for op ${m.op}` });
  }
}

export const matcherSchema = z.object(matcherFields).strict().superRefine(checkMatcher);
export const boostSchema = z
  .object({ ...matcherFields, factor: z.number().finite().gt(0, 'must be > 0 (< 1 buries)').max(MAX_BOOST_FACTOR, `must be at most ${MAX_BOOST_FACTOR}`) })
  .strict()
  .superRefine(checkMatcher);
export const pinSchema = z
  .object({ id: ruleId, position: z.number().int().min(1).max(MAX_RULE_POSITION, `must be at most ${MAX_RULE_POSITION}`) })
  .strict();
export const diversitySchema = z
  .object({
    field: fieldName,
    max: z.number().int().min(1).max(MAX_RULE_POSITION),
    top_k: z.number().int().min(1).max(MAX_RULE_POSITION).optional(),
  })
  .strict();
export const dedupeSchema = z.object({ field: fieldName }).strict();

/** The rules object, as the request's `rules` and an arm's config `rules` take it. */
export const rulesSchema = z
  .object({
    filter: z.array(matcherSchema).max(MAX_RULE_ENTRIES, `must hold at most ${MAX_RULE_ENTRIES} entries`).optional(),
    boost: z.array(boostSchema).max(MAX_RULE_ENTRIES, `must hold at most ${MAX_RULE_ENTRIES} entries`).optional(),
    pin: z.array(pinSchema).max(MAX_PINS, `must hold at most ${MAX_PINS} pins`).optional(),
    diversity: diversitySchema.optional(),
    dedupe: dedupeSchema.optional(),
  })
  .strict()
  .superRefine((rules, ctx) => {
    const ids = new Map<string, number>();
    const positions = new Map<number, number>();
    rules.pin?.forEach((pin, i) => {
      const sameId = ids.get(pin.id);
      if (sameId !== undefined) ctx.addIssue({ code: 'custom', path: ['pin', i, 'id'], message: `'${pin.id}' is already pinned (pin[${sameId}])` });
      else ids.set(pin.id, i);
      const samePosition = positions.get(pin.position);
      if (samePosition !== undefined) ctx.addIssue({ code: 'custom', path: ['pin', i, 'position'], message: `position ${pin.position} is already taken (pin[${samePosition}])` });
      else positions.set(pin.position, i);
    });
  });

export type Rules = z.infer<typeof rulesSchema>;
export type Matcher = z.infer<typeof matcherSchema>;
export type Boost = z.infer<typeof boostSchema>;
export type Pin = z.infer<typeof pinSchema>;

// ---------------------------------------------------------------------------------------------
// Compiled rules
// ---------------------------------------------------------------------------------------------

/** What the rules may read about the slate's rows (request order). */
export interface RuleContext {
  readonly n: number;
  id(row: number): string;
  /** the inline value of `field`, else the stored one, else undefined; `id` gives the id */
  value(row: number, field: string): RawValue | undefined;
}

type Predicate = (ctx: RuleContext, row: number) => boolean;

export interface CompiledRules {
  readonly filter: ReadonlyArray<{ matches: Predicate; describe: string }>;
  readonly boost: ReadonlyArray<{ matches: Predicate; factor: number; describe: string }>;
  readonly pin: readonly Pin[];
  readonly diversity: Rules['diversity'];
  readonly dedupe: Rules['dedupe'];
  /** no rule at all: the order is the objective's */
  readonly empty: boolean;
}

function isScalarKey(v: RawValue | undefined): v is string | number | boolean | null {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function compileMatcher(m: MatcherInput): { matches: Predicate; describe: string } {
  if (m.ids !== undefined) {
    const ids = new Set(m.ids);
    return { matches: (ctx, row) => ids.has(ctx.id(row)), describe: `ids (${ids.size})` };
  }
  const field = m.field!;
  const value = m.value;
  const describe = `${field} ${m.op} ${JSON.stringify(value)}`;
  const read = (ctx: RuleContext, row: number): RawValue | undefined => (field === 'id' ? ctx.id(row) : ctx.value(row, field));
  switch (m.op!) {
    case 'eq':
      return { matches: (ctx, row) => read(ctx, row) === value, describe };
    case 'ne':
      return {
        matches: (ctx, row) => {
          const v = read(ctx, row);
          return v !== undefined && isScalarKey(v) && v !== value;
        },
        describe,
      };
    case 'in':
    case 'not_in': {
      const set = new Set(value as Array<string | number | boolean | null>);
      const want = m.op === 'in';
      return {
        matches: (ctx, row) => {
          const v = read(ctx, row);
          return v !== undefined && isScalarKey(v) && set.has(v) === want;
        },
        describe,
      };
    }
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte': {
      const bound = value as number;
      const op = m.op;
      return {
        matches: (ctx, row) => {
          const v = read(ctx, row);
          if (typeof v !== 'number' || !Number.isFinite(v)) return false;
          return op === 'lt' ? v < bound : op === 'lte' ? v <= bound : op === 'gt' ? v > bound : v >= bound;
        },
        describe,
      };
    }
  }
}

/**
 * Merges rule sets (an arm's config rules first, then the request's) into one: filters and boosts
 * add up; the last diversity and dedupe win; a later set's pins win over an earlier one's for the
 * same id or position.
 */
export function compileRules(...sets: Array<Rules | undefined>): CompiledRules {
  const filter: Array<{ matches: Predicate; describe: string }> = [];
  const boost: Array<{ matches: Predicate; factor: number; describe: string }> = [];
  let pins: Pin[] = [];
  let diversity: Rules['diversity'];
  let dedupe: Rules['dedupe'];
  for (const rules of sets) {
    if (!rules) continue;
    for (const m of rules.filter ?? []) filter.push(compileMatcher(m));
    for (const b of rules.boost ?? []) if (b.factor !== 1) boost.push({ ...compileMatcher(b), factor: b.factor });
    if (rules.pin?.length) {
      const ids = new Set(rules.pin.map((p) => p.id));
      const positions = new Set(rules.pin.map((p) => p.position));
      pins = [...pins.filter((p) => !ids.has(p.id) && !positions.has(p.position)), ...rules.pin];
    }
    if (rules.diversity) diversity = rules.diversity;
    if (rules.dedupe) dedupe = rules.dedupe;
  }
  pins.sort((a, b) => a.position - b.position);
  return { filter, boost, pin: pins, diversity, dedupe, empty: filter.length === 0 && boost.length === 0 && pins.length === 0 && !diversity && !dedupe };
}

export const NO_RULES: CompiledRules = compileRules();

// ---------------------------------------------------------------------------------------------
// Applying them
// ---------------------------------------------------------------------------------------------

/** How a rule moved an item: ranks are 1-based, in the list entering and leaving that rule. */
export interface RuleMove {
  rule: 'boost' | 'diversity' | 'pin';
  from: number;
  to: number;
  /** the combined multiplier, for boost */
  factor?: number;
}

export interface RemovedItem {
  id: string;
  rule: 'filter' | 'dedupe';
  /** filter: the entry that matched; dedupe: the field, its value and the id kept in its place */
  detail: string;
}

export interface RuleOutcome {
  /** rows in served order (before k) */
  order: number[];
  /** per row: the product of the boost factors that matched (1 when none) */
  multiplier: Float64Array;
  /** per row: objective x multiplier */
  score: Float64Array;
  removed: RemovedItem[];
  /** rows placed by a pin */
  pinned: Set<number>;
  /** per row, when traced: the rules that moved it */
  moves?: Map<number, RuleMove[]>;
}

function addMove(moves: Map<number, RuleMove[]> | undefined, row: number, move: RuleMove): void {
  if (!moves) return;
  const list = moves.get(row);
  if (list) list.push(move);
  else moves.set(row, [move]);
}

function byScore(rows: number[], score: Float64Array): number[] {
  return rows.sort((a, b) => score[b]! - score[a]! || a - b);
}

function groupKey(v: RawValue | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return `s:${v}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v}:${String(v)}`;
  return undefined; // objects and lists do not group
}

/**
 * Runs the rules over objective scores (one per row, >= 0). `k` is the request's k (the default
 * diversity window). With `trace`, records which rules moved which rows.
 */
export function applyRules(ctx: RuleContext, objective: Float64Array, rules: CompiledRules, options: { k?: number | undefined; trace?: boolean } = {}): RuleOutcome {
  const n = ctx.n;
  const multiplier = new Float64Array(n).fill(1);
  const moves = options.trace ? new Map<number, RuleMove[]>() : undefined;
  const removed: RemovedItem[] = [];

  // 1. filter
  let rows: number[] = [];
  if (rules.filter.length === 0) {
    for (let r = 0; r < n; r++) rows.push(r);
  } else {
    for (let r = 0; r < n; r++) {
      const hit = rules.filter.find((f) => f.matches(ctx, r));
      if (hit) removed.push({ id: ctx.id(r), rule: 'filter', detail: hit.describe });
      else rows.push(r);
    }
  }

  // 2. boost / bury, 3. order
  const score = rules.boost.length === 0 ? Float64Array.from(objective) : new Float64Array(n);
  if (rules.boost.length > 0) {
    for (const r of rows) {
      let m = 1;
      for (const b of rules.boost) if (b.matches(ctx, r)) m *= b.factor;
      multiplier[r] = m;
      score[r] = objective[r]! * m;
    }
  }
  const order = byScore(rows, score);
  if (moves && rules.boost.length > 0) {
    const before = byScore([...rows], objective);
    const rankBefore = new Map(before.map((r, i) => [r, i + 1]));
    order.forEach((r, i) => {
      if (multiplier[r] !== 1) addMove(moves, r, { rule: 'boost', factor: multiplier[r]!, from: rankBefore.get(r)!, to: i + 1 });
    });
  }

  // 4-6
  const finished = finishRules(ctx, order, rules, { k: options.k, moves, removed });
  return { order: finished.order, multiplier, score, removed, pinned: finished.pinned, ...(moves ? { moves } : {}) };
}

/**
 * Steps 4-6 (dedupe, diversity, pins) over an order that is already ranked: the second half of
 * applyRules, and what an interleaved slate gets after the two arms' rankings are merged.
 */
export function finishRules(
  ctx: RuleContext,
  ranked: readonly number[],
  rules: CompiledRules,
  options: { k?: number | undefined; moves?: Map<number, RuleMove[]> | undefined; removed?: RemovedItem[] } = {},
): { order: number[]; pinned: Set<number>; removed: RemovedItem[] } {
  const { moves } = options;
  const removed = options.removed ?? [];
  let order = [...ranked];

  // 4. dedupe
  const pinnedIds = new Map(rules.pin.map((p) => [p.id, p]));
  if (rules.dedupe) order = dedupe(ctx, order, rules.dedupe.field, pinnedIds, removed);

  // Pinned rows leave the list here and come back in step 6.
  const pinnedRows: Array<{ row: number; position: number; from: number }> = [];
  if (pinnedIds.size > 0) {
    const kept: number[] = [];
    order.forEach((r, i) => {
      const pin = pinnedIds.get(ctx.id(r));
      if (pin) pinnedRows.push({ row: r, position: pin.position, from: i + 1 });
      else kept.push(r);
    });
    order = kept;
  }

  // 5. diversity
  if (rules.diversity) order = diversify(ctx, order, rules.diversity, options.k, moves);

  // 6. pins, in ascending position
  const pinned = new Set<number>();
  if (pinnedRows.length > 0) {
    pinnedRows.sort((a, b) => a.position - b.position);
    for (const p of pinnedRows) {
      const at = Math.min(p.position - 1, order.length);
      order.splice(at, 0, p.row);
      pinned.add(p.row);
    }
    for (const p of pinnedRows) addMove(moves, p.row, { rule: 'pin', from: p.from, to: order.indexOf(p.row) + 1 });
  }
  return { order, pinned, removed };
}

function dedupe(ctx: RuleContext, order: number[], field: string, pinnedIds: Map<string, Pin>, removed: RemovedItem[]): number[] {
  const keeper = new Map<string, number>();
  // A pinned item represents its group, whatever its score.
  for (const r of order) {
    if (!pinnedIds.has(ctx.id(r))) continue;
    const key = groupKey(ctx.value(r, field));
    if (key !== undefined && !keeper.has(key)) keeper.set(key, r);
  }
  const out: number[] = [];
  for (const r of order) {
    const key = groupKey(ctx.value(r, field));
    if (key === undefined) {
      out.push(r);
      continue;
    }
    const kept = keeper.get(key);
    if (kept === undefined) {
      keeper.set(key, r);
      out.push(r);
    } else if (kept === r) {
      out.push(r);
    } else {
      removed.push({ id: ctx.id(r), rule: 'dedupe', detail: `${field} = ${JSON.stringify(ctx.value(r, field))}, kept ${ctx.id(kept)}` });
    }
  }
  return out;
}

/**
 * Caps items per value of `field` within the top `top_k` (default k, else all): greedy in order;
 * an item over the cap is deferred; the rows outside the window keep their order.
 */
export function diversify(ctx: RuleContext, order: number[], rule: NonNullable<Rules['diversity']>, k: number | undefined, moves?: Map<number, RuleMove[]>): number[] {
  const window = Math.min(rule.top_k ?? k ?? order.length, order.length);
  const counts = new Map<string, number>();
  const top: number[] = [];
  const taken = new Set<number>();
  const deferred: number[] = [];
  for (const r of order) {
    if (top.length >= window) break;
    const key = groupKey(ctx.value(r, rule.field));
    if (key !== undefined) {
      const c = counts.get(key) ?? 0;
      if (c >= rule.max) {
        deferred.push(r);
        continue;
      }
      counts.set(key, c + 1);
    }
    top.push(r);
    taken.add(r);
  }
  if (deferred.length === 0) return order;
  const out = top;
  for (const r of order) if (!taken.has(r)) out.push(r);
  if (moves) {
    // Only the deferred rows are reported (everyone else shifts because of them).
    const before = new Map(order.map((r, i) => [r, i + 1]));
    const after = new Map(out.map((r, i) => [r, i + 1]));
    for (const r of deferred) if (after.get(r) !== before.get(r)) addMove(moves, r, { rule: 'diversity', from: before.get(r)!, to: after.get(r)! });
  }
  return out;
}
