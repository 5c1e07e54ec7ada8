// POST /v1/rank: validate, pick the arm, rank (rank/rank-slate.ts), log the exposure. KV reads race
// the request's deadline (RANK_DEADLINE_MS, counted once the body is read and valid), and every
// response is counted for /healthz: a fault gives a fallback order, never a 5xx (README, "Reliability").
import { Hono, type Context } from 'hono';
import type { AppEnv } from '../env.ts';
import { assignArm, hashUnit, type Assignment, type Unit } from '../experiments/assign.ts';
import type { CompiledExperiments } from '../experiments/config.ts';
import { experimentsFor } from '../experiments/source.ts';
import { exposureRow } from '../exposure/row.ts';
import { exposureSink, logExposure } from '../exposure/sink.ts';
import { featureStore } from '../features/store-instance.ts';
import type { FallbackReason } from '../health/fallbacks.ts';
import { ApiError } from '../http/errors.ts';
import { readJsonBody } from '../http/json-body.ts';
import { checkToken } from '../http/secrets.ts';
import { Deadline, deadlineMs } from '../rank/deadline.ts';
import { rankWithoutModel } from '../rank/no-model.ts';
import { rankSlate } from '../rank/rank-slate.ts';
import { MAX_ID_LENGTH, parseRankRequest, type RankRequest } from '../rank/schema.ts';
import { StageTimer } from '../rank/server-timing.ts';

/** Identifies an anonymous visitor for assignment (e.g. a first-party cookie's value). */
export const CLIENT_ID_HEADER = 'x-client-id';
/** QA: serve this arm instead of the assigned one; needs a token (OVERRIDE_TOKEN_HEADER or a bearer token). */
export const ARM_OVERRIDE_HEADER = 'x-experiment-arm';
/** Carries EXPERIMENT_OVERRIDE_TOKEN (or ADMIN_TOKEN), which makes ARM_OVERRIDE_HEADER count; `Authorization: Bearer` works too. */
export const OVERRIDE_TOKEN_HEADER = 'x-experiment-token';

export const rankRoutes = new Hono<AppEnv>();

rankRoutes.post('/v1/rank', async (c) => {
  const timer = new StageTimer();
  const request = parseRankRequest(await readJsonBody(c));
  timer.mark('parse');
  const deadline = new Deadline(deadlineMs(c.env.RANK_DEADLINE_MS));
  const registry = c.get('registry');
  const fallbacks = c.get('fallbacks');
  const waitUntil = waitUntilOf(c);
  const log = (message: string, error: unknown) => console.error(message, error);
  const requestId = request.request_id ?? crypto.randomUUID();
  let fallbackError: unknown;
  const onFallback = (_reason: FallbackReason, error: unknown) => {
    fallbackError = error;
  };

  if (!registry.available) {
    // No bundled model loaded (e.g. a bad manifest): a fallback order, and /healthz says why.
    const result = await rankWithoutModel(request, { store: featureStore(c.env), requestId, defaultModel: c.env.DEFAULT_MODEL, failures: registry.failures, deadline, waitUntil, timer, log, onFallback });
    fallbacks.record(result.fallback, fallbackError);
    c.header('Server-Timing', timer.header());
    return c.json(result);
  }

  const { experiments } = await experimentsFor(c.env, registry, { waitUntil, deadline });
  const assignment = await assign(c, experiments, request);
  timer.mark('arm');
  // A request that chose its own objective (QA, explain) was not served as its arm serves: keep it
  // out of the exposure log, whose rows are read per arm.
  const sink = request.objective === undefined ? exposureSink(c.env) : null;
  const now = new Date();
  const { result, served } = await rankSlate(request, {
    store: featureStore(c.env),
    arm: assignment.arm,
    timer,
    now,
    requestId,
    captureInputs: sink !== null,
    log,
    waitUntil,
    deadline,
    onFallback,
  });
  fallbacks.record(result.fallback, fallbackError);
  c.header('Server-Timing', timer.header());
  const response = c.json(result);
  if (sink) {
    const salt = c.env.EXPERIMENT_SALT;
    logExposure(
      sink,
      async () => exposureRow(served, { requestId, ts: now.getTime(), assignment, experiment: experiments.experiment, unitHash: await hashUnit(assignment.unit, salt) }),
      waitUntil,
      log,
    );
  }
  return response;
});

/** The request's arm: the QA override if it carries the secret, else the assignment by unit. */
async function assign(c: Context<AppEnv>, experiments: CompiledExperiments, request: RankRequest): Promise<Assignment> {
  const unit = unitOf(c, request);
  const wanted = c.req.header(ARM_OVERRIDE_HEADER);
  if (wanted !== undefined) {
    // Without a configured secret the header cannot be honoured; say so rather than serve another arm silently.
    // ADMIN_TOKEN counts too: whoever may flush caches may preview an arm.
    const check = await checkToken(c, [c.env.EXPERIMENT_OVERRIDE_TOKEN, c.env.ADMIN_TOKEN], OVERRIDE_TOKEN_HEADER);
    if (check === 'not_configured') throw new ApiError(403, 'forbidden', `${ARM_OVERRIDE_HEADER} is disabled: the secret EXPERIMENT_OVERRIDE_TOKEN is not set`, ARM_OVERRIDE_HEADER);
    if (check !== 'ok') {
      c.header('WWW-Authenticate', 'Bearer realm="experiment-override"');
      throw new ApiError(401, 'unauthorized', `${ARM_OVERRIDE_HEADER} needs a valid token in ${OVERRIDE_TOKEN_HEADER} or Authorization: Bearer (${check === 'missing' ? 'none given' : 'wrong token'})`, OVERRIDE_TOKEN_HEADER);
    }
    const arm = experiments.byName.get(wanted.trim());
    if (!arm) throw new ApiError(400, 'invalid_request', `${ARM_OVERRIDE_HEADER}: no arm '${wanted.slice(0, 64)}' (arms: ${experiments.arms.map((a) => a.name).join(', ')})`, ARM_OVERRIDE_HEADER);
    return { arm, unit, bucket: null, override: true };
  }
  return assignArm(experiments, unit, c.env.EXPERIMENT_SALT);
}

function unitOf(c: Context<AppEnv>, request: RankRequest): Unit {
  if (request.user_id !== undefined) return { kind: 'user', id: request.user_id };
  const client = c.req.header(CLIENT_ID_HEADER)?.trim();
  if (client === undefined || client === '') return { kind: 'none' };
  if (client.length > MAX_ID_LENGTH) throw new ApiError(400, 'invalid_request', `${CLIENT_ID_HEADER}: must be at most ${MAX_ID_LENGTH} characters`, CLIENT_ID_HEADER);
  return { kind: 'client', id: client };
}

/** ctx.waitUntil when the request came with an ExecutionContext (app.request() in tests may have none). */
function waitUntilOf(c: Context<AppEnv>): ((promise: Promise<unknown>) => void) | undefined {
  try {
    const ctx = c.executionCtx;
    return (promise) => ctx.waitUntil(promise);
  } catch {
    return undefined;
  }
}

rankRoutes.all('/v1/rank', (c) => {
  c.header('Allow', 'POST');
  throw new ApiError(405, 'method_not_allowed', `${c.req.method} is not allowed on /v1/rank; use POST`);
});
