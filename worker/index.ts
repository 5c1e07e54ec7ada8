// Worker entry: the app over the models bundled at build time, loaded at global scope so the
// isolate's start-up - not its first request - pays for ORT (README, "Performance": cold start).
// Cloudflare runs the global scope once per isolate, before any request, within its start-up limit
// (1 s of CPU); ORT's wasm backend, each model's session and a warm-up run take a few hundred ms
// of it here. Nothing at global scope may fail the worker: a model that does not load is retried
// by the first request that needs it, and a bad bundle surfaces on /healthz.
import { env } from 'cloudflare:workers';
import { createApp } from './app.ts';
import type { Bindings } from './env.ts';
import { bundledModels } from './model/bundled-models.ts';
import { GRAPH_OPTIMIZATION_LEVELS, type GraphOptimizationLevel } from './model/loaded-model.ts';
import { ModelRegistry } from './model/registry.ts';

function graphOptimizationLevel(value: string | undefined): GraphOptimizationLevel {
  return (GRAPH_OPTIMIZATION_LEVELS as readonly string[]).includes(value ?? '') ? (value as GraphOptimizationLevel) : 'basic';
}

const bindings = env as unknown as Bindings;
const registry = new ModelRegistry(bundledModels, { graphOptimizationLevel: graphOptimizationLevel(bindings.ORT_GRAPH_OPTIMIZATION) });
if (bindings.ORT_PRELOAD !== 'off') await registry.preload((message, error) => console.error(message, error));

export default createApp(() => registry);
