// GET /healthz and GET /v1/model: what this isolate serves and whether it can.
import { Hono } from 'hono';
import type { AppEnv } from '../env.ts';
import { experimentsFor } from '../experiments/source.ts';
import { exposureCounters, exposureSink } from '../exposure/sink.ts';
import { featureStore } from '../features/store-instance.ts';
import { Deadline } from '../rank/deadline.ts';

export const metaRoutes = new Hono<AppEnv>();

/** How long /healthz waits for each KV read (fs:active, the experiments config). */
const HEALTH_KV_DEADLINE_MS = 1_000;

// "degraded" when: no model loaded (or DEFAULT_MODEL is not the one serving), the feature set is
// missing or of another schema, the experiments config is invalid, exposures are logged without
// EXPERIMENT_SALT, or a rank fallback fired within the last minute (README, "Reliability").
metaRoutes.get('/healthz', async (c) => {
  const registry = c.get('registry');
  const fallbacks = c.get('fallbacks');
  const problems: string[] = [];
  const fallbackReport = fallbacks.report();
  if (fallbacks.recentlyFired()) problems.push('fallbacks');
  const sinkName = exposureSink(c.env)?.name ?? 'off';
  const exposures: Record<string, unknown> = { sink: sinkName, ...exposureCounters };
  if (sinkName !== 'off' && !c.env.EXPERIMENT_SALT) {
    // rows then carry no user hash at all (never a raw id); say so rather than log silently
    exposures.error = 'EXPERIMENT_SALT is not set: exposure rows carry no user hash';
    problems.push('exposures');
  }

  if (!registry.available) {
    return c.json({
      status: 'degraded',
      model: { id: c.env.DEFAULT_MODEL ?? null, version: null, loaded: false, error: registry.failures.join('; ') },
      feature_set: { version: null },
      experiments: null,
      exposures,
      fallbacks: fallbackReport,
    });
  }

  const model = registry.default(c.env.DEFAULT_MODEL);
  let modelLoaded = true;
  const modelErrors: string[] = [];
  if (c.env.DEFAULT_MODEL && model.id !== c.env.DEFAULT_MODEL) modelErrors.push(`DEFAULT_MODEL '${c.env.DEFAULT_MODEL}' is not loaded; serving '${model.id}'`);
  if (registry.failures.length > 0) modelErrors.push(...registry.failures);
  try {
    await model.ready();
  } catch (error) {
    modelLoaded = false;
    modelErrors.push(error instanceof Error ? error.message : String(error));
  }
  let featureSet: string | null = null;
  let featureSetError: string | undefined;
  try {
    const active = await new Deadline(HEALTH_KV_DEADLINE_MS).race(featureStore(c.env).activeFeatureSet(), 'KV fs:active');
    featureSet = active?.version ?? null;
    if (active && active.schema !== model.manifest.feature_set.schema) {
      featureSetError = `active feature set has schema ${active.schema}, model expects ${model.manifest.feature_set.schema}`;
    }
  } catch (error) {
    featureSetError = error instanceof Error ? error.message : String(error);
  }
  const { experiments, error: experimentsError } = await experimentsFor(c.env, registry, { deadline: new Deadline(HEALTH_KV_DEADLINE_MS) });
  if (!modelLoaded || modelErrors.length > 0) problems.push('model');
  if (featureSet === null || featureSetError !== undefined) problems.push('feature_set');
  if (experimentsError !== null) problems.push('experiments');
  return c.json({
    status: problems.length === 0 ? 'ok' : 'degraded',
    ...(problems.length > 0 ? { degraded: problems } : {}),
    model: { id: model.id, version: model.manifest.model.version, loaded: modelLoaded, ...(modelErrors.length > 0 ? { error: modelErrors.join('; ') } : {}) },
    feature_set: { version: featureSet, ...(featureSetError ? { error: featureSetError } : {}) },
    experiments: {
      experiment: experiments.experiment,
      source: experiments.source,
      control: experiments.control,
      arms: experiments.arms.map((a) => ({ name: a.name, kind: a.kind, share: a.share })),
      salt: Boolean(c.env.EXPERIMENT_SALT),
      ...(experimentsError ? { error: experimentsError } : {}),
    },
    // this isolate's exposure log writes (README, "Exposure logging")
    exposures,
    // this isolate's rank fallbacks per reason (README, "Reliability")
    fallbacks: fallbackReport,
  });
});

metaRoutes.get('/v1/model', (c) => {
  const registry = c.get('registry');
  const defaultId = registry.available ? registry.default(c.env.DEFAULT_MODEL).id : null;
  return c.json({
    default: defaultId,
    ...(registry.failures.length > 0 ? { errors: registry.failures } : {}),
    models: registry.list().map((m) => {
      const { model, feature_set, inputs, outputs, objective, features, metrics } = m.manifest;
      return {
        ...model,
        feature_set,
        objective,
        inputs: inputs.map((i) => ({ name: i.name, dtype: i.dtype, shape: [-1, i.features.length], features: i.features })),
        outputs,
        features: features.map((f) => ({ name: f.name, kind: f.kind })),
        metrics: metrics ?? {},
      };
    }),
  });
});
