// A rank request when no bundled model could be loaded (the registry left every one out, e.g. a
// bad manifest): no arm can be compiled, so the request gets the fallback order - the popularity
// prior when the item records can be read within the deadline, else the request order - with
// fallback 'model_error' (or 'kv_error' / 'kv_timeout' when the read fails too).
import type { FeatureStore } from '../features/store.ts';
import type { FallbackReason } from '../health/fallbacks.ts';
import { DeadlineExceeded, type Deadline } from './deadline.ts';
import { fallbackOrder, readSlate, type RankResult } from './rank-slate.ts';
import type { RankRequest } from './schema.ts';
import type { StageTimer } from './server-timing.ts';

export interface NoModelDeps {
  store: FeatureStore;
  requestId: string;
  /** DEFAULT_MODEL: the model the response names (its version is unknown: 'unavailable') */
  defaultModel: string | undefined;
  /** why the registry has no model */
  failures: readonly string[];
  deadline: Deadline;
  waitUntil: ((promise: Promise<unknown>) => void) | undefined;
  timer: StageTimer;
  log: (message: string, error: unknown) => void;
  onFallback: (reason: FallbackReason, error: unknown) => void;
}

export async function rankWithoutModel(request: RankRequest, deps: NoModelDeps): Promise<RankResult> {
  let reason: FallbackReason = 'model_error';
  let error: unknown = new Error(`no model is loaded: ${deps.failures.join('; ')}`);
  let read: Awaited<ReturnType<typeof readSlate>> = { active: null, stored: [], user: undefined };
  try {
    read = await readSlate(request, deps.store, { deadline: deps.deadline, waitUntil: deps.waitUntil });
  } catch (kvError) {
    reason = kvError instanceof DeadlineExceeded ? 'kv_timeout' : 'kv_error';
    error = kvError;
    deps.log('feature store read failed', kvError);
  }
  deps.timer.mark('kv');
  deps.onFallback(reason, error);
  const { result } = fallbackOrder(request, undefined, read.stored, read.active?.schema ?? null, reason);
  deps.timer.mark('order');
  return {
    request_id: deps.requestId,
    model: { id: deps.defaultModel ?? 'none', version: 'unavailable' },
    arm: 'none',
    feature_set: null,
    ...result,
  };
}
