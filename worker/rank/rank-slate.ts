// The rank pipeline for one request: feature set -> KV records -> tensors -> model -> objective ->
// order. A fault in KV or the model degrades to the request order with `fallback` naming why.
import type { ItemRow, SlateRecords } from '../../model/features/assemble.ts';
import { itemKey, userKey } from '../../model/features/kv-layout.ts';
import { contextRecord, type RawRecord } from '../../model/features/records.ts';
import type { FeatureStore } from '../features/store.ts';
import type { LoadedModel, Scores } from '../model/loaded-model.ts';
import { objectiveScores, orderByScore } from './objective.ts';
import type { RankItem, RankRequest } from './schema.ts';
import type { StageTimer } from './server-timing.ts';

export type FallbackReason = 'kv_error' | 'model_error';

export interface RankedItem {
  id: string;
  score: number;
  p_ctr: number | null;
  p_cvr: number | null;
  features?: Record<string, number>;
}

export interface RankResult {
  request_id: string;
  model: { id: string; version: string };
  arm: string;
  feature_set: string | null;
  items: RankedItem[];
  fallback: FallbackReason | null;
}

export interface RankDeps {
  store: FeatureStore;
  model: LoadedModel;
  timer: StageTimer;
  now: Date;
  requestId: string;
  log?: (message: string, error: unknown) => void;
  /** keeps background work (feature cache refreshes) alive after the response */
  waitUntil?: (promise: Promise<unknown>) => void;
}

function inlineFields(item: RankItem): RawRecord | undefined {
  // Most items carry only an id (and maybe a price): skip the copy when there is nothing inline.
  let inline = false;
  for (const key in item) {
    if (key !== 'id') {
      inline = true;
      break;
    }
  }
  if (!inline) return undefined;
  const { id: _id, ...rest } = item;
  return rest as RawRecord;
}

export async function rankSlate(request: RankRequest, deps: RankDeps): Promise<RankResult> {
  const { store, model, timer } = deps;
  const base = {
    request_id: deps.requestId,
    model: { id: model.manifest.model.id, version: model.manifest.model.version },
    arm: 'default',
  };

  let featureSet: string | null = null;
  let user: RawRecord | undefined;
  let stored: Array<RawRecord | null> = [];
  try {
    const active = await store.activeFeatureSet();
    // A feature set written for another record schema would feed the model wrong values: skip it.
    if (active && active.schema === model.manifest.feature_set.schema) {
      featureSet = active.version;
      const keys = request.items.map((item) => itemKey(active.version, item.id));
      if (request.user_id !== undefined) keys.push(userKey(active.version, request.user_id));
      const reading = store.getRecords(keys, { waitUntil: deps.waitUntil });
      // On an isolate's first request, ORT's start-up (CPU) overlaps the KV round trip; afterwards
      // this is a settled promise. A failure surfaces in scoring.
      model.ready().catch(() => undefined);
      const records = await reading;
      stored = records.slice(0, request.items.length);
      if (request.user_id !== undefined) user = records[request.items.length] ?? undefined;
    }
  } catch (error) {
    deps.log?.('feature store read failed', error);
    timer.mark('kv');
    return { ...base, feature_set: null, items: requestOrder(request), fallback: 'kv_error' };
  }
  timer.mark('kv');

  const items: ItemRow[] = request.items.map((item, i) => ({ id: item.id, stored: stored[i] ?? undefined, inline: inlineFields(item) }));
  const slate: SlateRecords = { userId: request.user_id, user, context: contextRecord(request.context, deps.now), items };

  let scores: Scores;
  let explained: Array<Record<string, number>> | undefined;
  try {
    scores = await model.score(slate, (buffers) => {
      timer.mark('features');
      if (request.explain) explained = items.map((_, r) => model.assembler.rowValues(buffers, r));
    });
  } catch (error) {
    deps.log?.('model scoring failed', error);
    timer.mark('model');
    return { ...base, feature_set: featureSet, items: requestOrder(request), fallback: 'model_error' };
  }
  timer.mark('model');

  const prices = new Float64Array(items.length);
  items.forEach((item, i) => {
    const price = item.inline?.price ?? item.stored?.price;
    prices[i] = typeof price === 'number' && Number.isFinite(price) && price >= 0 ? price : Number.NaN;
  });
  const score = objectiveScores(model.manifest.objective, scores.pCtr, scores.pCvr, prices);
  const order = orderByScore(score);
  const k = Math.min(request.k ?? order.length, order.length);
  const ranked: RankedItem[] = [];
  for (let j = 0; j < k; j++) {
    const i = order[j]!;
    ranked.push({
      id: items[i]!.id,
      score: score[i]!,
      p_ctr: scores.pCtr[i]!,
      p_cvr: scores.pCvr[i]!,
      ...(explained ? { features: explained[i]! } : {}),
    });
  }
  timer.mark('order');
  return { ...base, feature_set: featureSet, items: ranked, fallback: null };
}

function requestOrder(request: RankRequest): RankedItem[] {
  const k = Math.min(request.k ?? request.items.length, request.items.length);
  return request.items.slice(0, k).map((item, i) => ({ id: item.id, score: request.items.length - i, p_ctr: null, p_cvr: null }));
}
