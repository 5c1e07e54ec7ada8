// GET /healthz and GET /v1/model: what this isolate serves and whether it can.
import { Hono } from 'hono';
import type { AppEnv } from '../env.ts';
import { experimentsFor } from '../experiments/source.ts';
import { exposureCounters, exposureSink } from '../exposure/sink.ts';
import { featureStore } from '../features/store-instance.ts';

export const metaRoutes = new Hono<AppEnv>();

metaRoutes.get('/healthz', async (c) => {
  const registry = c.get('registry');
  const model = registry.default(c.env.DEFAULT_MODEL);
  let modelLoaded = true;
  let modelError: string | undefined;
  try {
    await model.ready();
  } catch (error) {
    modelLoaded = false;
    modelError = error instanceof Error ? error.message : String(error);
  }
  let featureSet: string | null = null;
  let featureSetError: string | undefined;
  try {
    const active = await featureStore(c.env).activeFeatureSet();
    featureSet = active?.version ?? null;
    if (active && active.schema !== model.manifest.feature_set.schema) {
      featureSetError = `active feature set has schema ${active.schema}, model expects ${model.manifest.feature_set.schema}`;
    }
  } catch (error) {
    featureSetError = error instanceof Error ? error.message : String(error);
  }
  const { experiments, error: experimentsError } = await experimentsFor(c.env, registry);
  const ok = modelLoaded && featureSet !== null && featureSetError === undefined && experimentsError === null;
  return c.json({
    status: ok ? 'ok' : 'degraded',
    model: { id: model.id, version: model.manifest.model.version, loaded: modelLoaded, ...(modelError ? { error: modelError } : {}) },
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
    exposures: { sink: exposureSink(c.env)?.name ?? 'off', ...exposureCounters },
  });
});

metaRoutes.get('/v1/model', (c) => {
  const registry = c.get('registry');
  const defaultId = registry.default(c.env.DEFAULT_MODEL).id;
  return c.json({
    default: defaultId,
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
