// The rank pipeline for one request and its arm: feature set -> KV records -> tensors -> model(s)
// -> objective -> business rules -> (interleaving) -> k. A fault degrades instead of failing, with
// `fallback` naming why (README, "Reliability"): KV failing or past the deadline gives the request
// order; a model failing gives the popularity prior (the items' stored click_coec) when the records
// were read, else the request order; the rules still apply. The served slate is handed back beside
// the response for the exposure log.
import type { AssembledInput, ItemRow, SlateRecords } from '../../model/features/assemble.ts';
import { contextRecord, FEATURE_SET_SCHEMA, type ContextFeatures, type RawRecord, type RawValue } from '../../model/features/records.ts';
import type { CompiledArm, ScoringArm } from '../experiments/config.ts';
import { coin, seedOf, teamDraft } from '../experiments/interleave.ts';
import type { FeatureStore } from '../features/store.ts';
import type { FallbackReason } from '../health/fallbacks.ts';
import type { LoadedModel, Scores } from '../model/loaded-model.ts';
import { compileObjective, type ArmObjective, type CompiledObjective } from './objective.ts';
import { applyRules, compileRules, finishRules, type CompiledRules, type RemovedItem, type RuleContext, type RuleMove, type RuleOutcome } from './rules.ts';
import type { RankItem, RankRequest } from './schema.ts';
import { DeadlineExceeded, type Deadline } from './deadline.ts';
import type { StageTimer } from './server-timing.ts';

export type { FallbackReason } from '../health/fallbacks.ts';

/**
 * The item field a model fallback orders by when the records were read: the position-debiased
 * click rate (COEC) the backfill stores for every item of a FEATURE_SET_SCHEMA feature set - the
 * offline evaluation's popularity baseline, and free here because the records are already read.
 */
export const POPULARITY_PRIOR_FIELD = 'click_coec';

/** What a fallback served: the request's own order or the popularity prior. */
export type FallbackOrder = 'request' | 'popularity';

/** With explain=true: how an item's score was made and which rules moved it. */
export interface ItemExplain {
  /** the objective's value (or the popularity value) before rule multipliers */
  objective: number;
  /** the product of the boost/bury factors that matched */
  multiplier: number;
  /** the price the objective used (a missing one is filled with the slate's median); null when it uses none */
  price: number | null;
  /** 1-based rank among all candidates by the objective alone (its arm's, when interleaved) */
  rank_before_rules: number;
  /** the rules that moved it, from rank -> to rank, in the order they ran */
  moves: RuleMove[];
}

export interface RankedItem {
  id: string;
  score: number;
  p_ctr: number | null;
  p_cvr: number | null;
  /** interleaving only: the arm that contributed the item (null: a pin placed it) */
  arm?: string | null;
  features?: Record<string, number>;
  explain?: ItemExplain;
}

export interface RankResult {
  request_id: string;
  model: { id: string; version: string };
  arm: string;
  feature_set: string | null;
  items: RankedItem[];
  fallback: FallbackReason | null;
  /** with a fallback: which order was served */
  fallback_order?: FallbackOrder;
  explain?: {
    arm_kind: CompiledArm['kind'];
    sides?: [string, string];
    objective: ArmObjective | { kind: 'popularity'; field: string } | Array<ArmObjective | { kind: 'popularity'; field: string }>;
    /** items the rules removed (they are not in `items`) */
    removed: RemovedItem[];
  };
}

/** The served slate, for the exposure log (worker/exposure/row.ts). */
export interface ServedSlate {
  arm: CompiledArm;
  model: { id: string; version: string };
  featureSet: string | null;
  fallback: FallbackReason | null;
  context: ContextFeatures;
  candidates: number;
  k: number | null;
  items: Array<{ row: number; id: string; score: number; p_ctr: number | null; p_cvr: number | null; price: number | null; arm?: string | null }>;
  /** copies of the feature model's assembled inputs, every candidate row (null when none were assembled) */
  inputs: { model: LoadedModel; buffers: AssembledInput[] } | null;
}

export interface RankDeps {
  store: FeatureStore;
  arm: CompiledArm;
  timer: StageTimer;
  now: Date;
  requestId: string;
  /** copy the assembled model inputs for the exposure log */
  captureInputs?: boolean;
  log?: (message: string, error: unknown) => void;
  /** keeps background work (feature cache refreshes) alive after the response */
  waitUntil?: (promise: Promise<unknown>) => void;
  /** the request's deadline for KV reads (RANK_DEADLINE_MS); none: wait as long as KV takes */
  deadline?: Deadline;
  /** why the slate fell back (the error behind `fallback`), for /healthz */
  onFallback?: (reason: FallbackReason, error: unknown) => void;
}

/** The records a slate reads from KV: the active feature set, the items' records and the user's. */
export interface SlateRead {
  /** the active feature set's version and record schema (null: none published) */
  active: { version: string; schema: string } | null;
  /** one per request item (null: no record) */
  stored: Array<RawRecord | null>;
  user: RawRecord | undefined;
}

/**
 * Reads the slate's records through the store, racing the request's deadline. Throws
 * DeadlineExceeded when KV did not answer in time (the read goes on, abandoned: the record cache
 * keeps what it brings), or the store's error.
 */
export function readSlate(request: RankRequest, store: FeatureStore, options: { deadline?: Deadline; waitUntil?: (promise: Promise<unknown>) => void; whileReading?: () => void }): Promise<SlateRead> {
  const n = request.items.length;
  const read = (async (): Promise<SlateRead> => {
    const active = await store.activeFeatureSet();
    if (!active) return { active: null, stored: [], user: undefined };
    const reading = store.getSlateRecords(
      active.version,
      request.items.map((item) => item.id),
      request.user_id,
      { waitUntil: options.waitUntil },
    );
    options.whileReading?.();
    const records = await reading;
    return { active: { version: active.version, schema: active.schema }, stored: records.slice(0, n), user: request.user_id !== undefined ? (records[n] ?? undefined) : undefined };
  })();
  return options.deadline ? options.deadline.race(read, `KV (deadline ${options.deadline.ms} ms)`) : read;
}

/** The item's fields but its id (undefined when it has none): a request item is a parsed JSON object, own keys only. */
function inlineFields(item: RankItem): RawRecord | undefined {
  // Built key by key: a third of the time of `const { id, ...rest } = item` in V8 (5 us a 100-item slate).
  let rest: Record<string, RawValue> | undefined;
  for (const key in item) if (key !== 'id') (rest ??= {})[key] = (item as Record<string, RawValue>)[key]!;
  return rest;
}

/** A model's name in responses and logs; a popularity arm has none. */
function scorerOf(arm: ScoringArm): { id: string; version: string } {
  return arm.kind === 'model' ? { id: arm.model.manifest.model.id, version: arm.model.manifest.model.version } : { id: 'popularity', version: arm.field };
}

function objectiveOf(arm: ScoringArm, override: CompiledObjective | undefined): ArmObjective | { kind: 'popularity'; field: string } {
  return arm.kind === 'model' ? (override ?? arm.objective).spec : { kind: 'popularity', field: arm.field };
}

function copyInputs(buffers: readonly AssembledInput[], rows: number): AssembledInput[] {
  return buffers.map((b) => ({ name: b.name, dtype: b.dtype, width: b.width, data: b.data.slice(0, rows * b.width) }));
}

/** One arm's ranking of the slate. */
interface Side {
  arm: ScoringArm;
  base: Float64Array;
  scores?: Scores;
  prices?: Float64Array;
  outcome: RuleOutcome;
  rankBefore?: Int32Array;
}

export async function rankSlate(request: RankRequest, deps: RankDeps): Promise<{ result: RankResult; served: ServedSlate }> {
  const { store, arm, timer } = deps;
  const sides: ScoringArm[] = arm.kind === 'interleave' ? [...arm.sides] : [arm];
  const n = request.items.length;
  const k = request.k ?? null;
  const context = contextRecord(request.context, deps.now);
  const model = scorerOf(sides[0]!);
  const base = { request_id: deps.requestId, model, arm: arm.name };
  const fail = (reason: FallbackReason, error: unknown, featureSet: string | null, stored: Array<RawRecord | null>, storedSchema: string | null) => {
    deps.onFallback?.(reason, error);
    const { result, served } = fallbackOrder(request, deps.arm.rules, stored, storedSchema, reason);
    return { result: { ...base, feature_set: featureSet, ...result }, served: { ...served, arm, model, featureSet, context } };
  };

  let featureSet: string | null = null;
  let activeSchema: string | null = null;
  let user: RawRecord | undefined;
  let stored: Array<RawRecord | null> = [];
  try {
    const read = await readSlate(request, store, {
      deadline: deps.deadline,
      waitUntil: deps.waitUntil,
      // Models are loaded at the isolate's start-up; with ORT_PRELOAD=off (or a model whose
      // start-up load failed) the first request's ORT start (CPU) overlaps the KV round trip.
      // Otherwise this is a settled promise. A failure surfaces in scoring.
      whileReading: () => {
        for (const side of sides) if (side.kind === 'model') side.model.ready().catch(() => undefined);
      },
    });
    if (read.active) {
      activeSchema = read.active.schema;
      // A feature set written for another record schema would feed a model wrong values: it is
      // only used by models of its schema (the others get defaults), and named only if it is the
      // feature model's.
      if (read.active.schema === arm.featureModel.manifest.feature_set.schema) featureSet = read.active.version;
    }
    stored = read.stored;
    user = read.user;
  } catch (error) {
    const timedOut = error instanceof DeadlineExceeded;
    deps.log?.(timedOut ? 'feature store read past the deadline' : 'feature store read failed', error);
    timer.mark('kv');
    return fail(timedOut ? 'kv_timeout' : 'kv_error', error, null, [], null);
  }
  timer.mark('kv');

  const items: ItemRow[] = request.items.map((item, i) => ({ id: item.id, stored: stored[i] ?? undefined, inline: inlineFields(item) }));
  const withRecords: SlateRecords = { userId: request.user_id, user, context, items };
  // Built only for a model of another record schema than the active feature set's (rare).
  let withoutRecords: SlateRecords | undefined;
  const slateFor = (m: LoadedModel): SlateRecords =>
    m.manifest.feature_set.schema === activeSchema ? withRecords : (withoutRecords ??= { userId: request.user_id, context, items: items.map((row) => ({ id: row.id, inline: row.inline })) });

  // Models: each distinct one once; the feature model's inputs are copied for the log / explain.
  const featureModel = arm.featureModel;
  const wantInputs = Boolean(deps.captureInputs || request.explain);
  let inputs: AssembledInput[] | undefined;
  const scores = new Map<LoadedModel, Scores>();
  try {
    for (const side of sides) {
      if (side.kind !== 'model' || scores.has(side.model)) continue;
      const onAssembled =
        side.model === featureModel
          ? (buffers: AssembledInput[]) => {
              timer.mark('features');
              if (wantInputs) inputs = copyInputs(buffers, n);
            }
          : undefined;
      scores.set(side.model, await side.model.score(slateFor(side.model), onAssembled));
    }
    if (wantInputs && inputs === undefined) {
      // A popularity arm runs no model: its feature model's inputs are assembled for the log alone.
      const buffers = featureModel.assembler.allocate(n);
      featureModel.assembler.fill(slateFor(featureModel), buffers);
      inputs = buffers;
      timer.mark('features');
    }
  } catch (error) {
    deps.log?.('model scoring failed', error);
    timer.mark('model');
    return fail('model_error', error, featureSet, stored, activeSchema);
  }
  timer.mark('model');

  const ctx = ruleContext(request, stored);
  const rawPrices = prices(request, stored);
  const trace = Boolean(request.explain);
  // The request's objective (QA, explain) replaces every model side's; compiling one is a switch.
  const override = request.objective ? compileObjective(request.objective) : undefined;
  const ranked: Side[] = sides.map((side) => {
    const rules = request.rules ? compileRules(side.rules, request.rules) : side.compiledRules;
    let baseScores: Float64Array;
    let sideScores: Scores | undefined;
    let used: Float64Array | undefined;
    if (side.kind === 'model') {
      sideScores = scores.get(side.model)!;
      baseScores = new Float64Array(n);
      const objective = override ?? side.objective;
      objective.score(sideScores.pCtr, sideScores.pCvr, rawPrices, baseScores);
      used = trace ? objective.effectivePrices(rawPrices) : undefined;
    } else {
      baseScores = popularityScores(ctx, side.field, side.missing);
    }
    const outcome = applyRules(ctx, baseScores, rules, { k: request.k, trace });
    return { arm: side, base: baseScores, ...(sideScores ? { scores: sideScores } : {}), ...(used ? { prices: used } : {}), outcome, ...(trace ? { rankBefore: ranks(baseScores) } : {}) };
  });

  // Interleaving merges the two rankings, then runs dedupe, diversity and pins on the merged slate.
  let order: number[];
  let team: Array<Side | null> | undefined;
  let removed: RemovedItem[];
  let finalMoves: Map<number, RuleMove[]> | undefined;
  if (arm.kind === 'interleave') {
    const [a, b] = ranked as [Side, Side];
    const merged = teamDraft(a.outcome.order, b.outcome.order, coin(seedOf(deps.requestId)));
    const rules: CompiledRules = request.rules ? compileRules(arm.rules, request.rules) : arm.compiledRules;
    finalMoves = trace ? new Map() : undefined;
    const teamOf = new Map(merged.order.map((row, i) => [row, merged.team[i] === 0 ? a : b]));
    const finished = finishRules(ctx, merged.order, rules, { k: request.k, moves: finalMoves, removed: [...a.outcome.removed, ...b.outcome.removed.filter((r) => !a.outcome.removed.some((x) => x.id === r.id))] });
    order = finished.order;
    team = order.map((row) => (finished.pinned.has(row) ? null : teamOf.get(row)!));
    removed = finished.removed;
  } else {
    order = ranked[0]!.outcome.order;
    removed = ranked[0]!.outcome.removed;
  }
  const cut = Math.min(k ?? order.length, order.length);

  const explained = request.explain ? inputs : undefined;
  const resultItems: RankedItem[] = [];
  const servedItems: ServedSlate['items'] = [];
  for (let j = 0; j < cut; j++) {
    const row = order[j]!;
    const owner = team ? team[j] : ranked[0]!;
    // A pinned item in an interleaved slate has no team: it shows its first arm's numbers.
    const side = owner ?? ranked[0]!;
    const pCtr = side.scores ? side.scores.pCtr[row]! : null;
    const pCvr = side.scores ? side.scores.pCvr[row]! : null;
    const score = side.outcome.score[row]!;
    const item: RankedItem = { id: request.items[row]!.id, score, p_ctr: pCtr, p_cvr: pCvr };
    if (team) item.arm = owner ? owner.arm.name : null;
    if (explained) item.features = featureModel.assembler.rowValues(explained, row);
    if (trace) {
      const moves = [...(side.outcome.moves?.get(row) ?? []), ...(finalMoves?.get(row) ?? [])];
      item.explain = {
        objective: side.base[row]!,
        multiplier: side.outcome.multiplier[row]!,
        price: side.prices ? side.prices[row]! : null,
        rank_before_rules: side.rankBefore![row]!,
        moves,
      };
    }
    resultItems.push(item);
    const servedItem: ServedSlate['items'][number] = { row, id: item.id, score, p_ctr: pCtr, p_cvr: pCvr, price: Number.isFinite(rawPrices[row]!) ? rawPrices[row]! : null };
    if (team) servedItem.arm = item.arm ?? null;
    servedItems.push(servedItem);
  }
  timer.mark('order');

  const result: RankResult = { ...base, feature_set: featureSet, items: resultItems, fallback: null };
  if (trace) {
    result.explain = {
      arm_kind: arm.kind,
      ...(arm.kind === 'interleave' ? { sides: [arm.sides[0].name, arm.sides[1].name] as [string, string] } : {}),
      objective: sides.length === 1 ? objectiveOf(sides[0]!, override) : sides.map((side) => objectiveOf(side, override)),
      removed,
    };
  }
  const served: ServedSlate = {
    arm,
    model,
    featureSet,
    fallback: null,
    context,
    candidates: n,
    k,
    items: servedItems,
    inputs: deps.captureInputs && inputs ? { model: featureModel, buffers: inputs } : null,
  };
  return { result, served };
}

/** What rules read: the inline field, else the stored record's, else nothing. */
function ruleContext(request: RankRequest, stored: ReadonlyArray<RawRecord | null>): RuleContext {
  return {
    n: request.items.length,
    id: (row) => request.items[row]!.id,
    value: (row, field): RawValue | undefined => {
      const inline = (request.items[row] as Record<string, RawValue | undefined>)[field];
      if (inline !== undefined) return inline;
      return stored[row]?.[field];
    },
  };
}

function prices(request: RankRequest, stored: ReadonlyArray<RawRecord | null>): Float64Array {
  const out = new Float64Array(request.items.length);
  request.items.forEach((item, i) => {
    const price = item.price ?? stored[i]?.price;
    out[i] = typeof price === 'number' && Number.isFinite(price) && price >= 0 ? price : Number.NaN;
  });
  return out;
}

/** A popularity arm's scores: the field's value (negative ones count as 0), `missing` when absent. */
function popularityScores(ctx: RuleContext, field: string, missing: number): Float64Array {
  const out = new Float64Array(ctx.n);
  for (let r = 0; r < ctx.n; r++) {
    const v = ctx.value(r, field);
    out[r] = typeof v === 'number' && Number.isFinite(v) ? Math.max(0, v) : missing;
  }
  return out;
}

/** 1-based ranks by descending score, ties in request order. */
function ranks(scores: Float64Array): Int32Array {
  const order = Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]! || a - b);
  const out = new Int32Array(scores.length);
  order.forEach((row, i) => (out[row] = i + 1));
  return out;
}

/**
 * What a request gets when KV or a model fails: the popularity prior (each item's stored
 * POPULARITY_PRIOR_FIELD, 0 where missing, ties in request order) when records of
 * FEATURE_SET_SCHEMA were read and at least one item has the field, else the request order
 * (score n - i); the rules apply either way. Without records only inline fields and id lists can
 * match a rule.
 */
export function fallbackOrder(
  request: RankRequest,
  armRules: Parameters<typeof compileRules>[0],
  stored: Array<RawRecord | null>,
  storedSchema: string | null,
  reason: FallbackReason,
): { result: Pick<RankResult, 'items' | 'fallback' | 'fallback_order'>; served: Omit<ServedSlate, 'arm' | 'model' | 'featureSet' | 'context'> } {
  const n = request.items.length;
  const prior = storedSchema === FEATURE_SET_SCHEMA ? popularityPrior(stored, n) : null;
  const baseScores = prior ?? Float64Array.from({ length: n }, (_, i) => n - i);
  const rules = compileRules(armRules, request.rules);
  const outcome = applyRules(ruleContext(request, stored), baseScores, rules, { k: request.k });
  const cut = Math.min(request.k ?? outcome.order.length, outcome.order.length);
  const p = prices(request, stored);
  const order = outcome.order.slice(0, cut);
  const items: RankedItem[] = order.map((row) => ({ id: request.items[row]!.id, score: outcome.score[row]!, p_ctr: null, p_cvr: null }));
  return {
    result: { items, fallback: reason, fallback_order: prior ? 'popularity' : 'request' },
    served: {
      fallback: reason,
      candidates: n,
      k: request.k ?? null,
      items: order.map((row, j) => ({ row, id: items[j]!.id, score: items[j]!.score, p_ctr: null, p_cvr: null, price: Number.isFinite(p[row]!) ? p[row]! : null })),
      inputs: null,
    },
  };
}

/** The items' stored prior (finite, >= 0; 0 where missing or malformed), or null if no item has one. */
function popularityPrior(stored: ReadonlyArray<RawRecord | null>, n: number): Float64Array | null {
  const out = new Float64Array(n);
  let found = false;
  for (let r = 0; r < n; r++) {
    const v = stored[r]?.[POPULARITY_PRIOR_FIELD];
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) {
      out[r] = v;
      found = true;
    }
  }
  return found ? out : null;
}
