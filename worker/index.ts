// Worker entry: the app over the models bundled at build time. The registry is built on the first
// request, not at global scope (Workers limit start-up time, and a bad bundle should surface as a
// /healthz error rather than a worker that cannot start).
import { createApp } from './app.ts';
import { bundledModels } from './model/bundled-models.ts';
import { GRAPH_OPTIMIZATION_LEVELS, type GraphOptimizationLevel } from './model/loaded-model.ts';
import { ModelRegistry } from './model/registry.ts';

let registry: ModelRegistry | undefined;

function graphOptimizationLevel(value: string | undefined): GraphOptimizationLevel {
  return (GRAPH_OPTIMIZATION_LEVELS as readonly string[]).includes(value ?? '') ? (value as GraphOptimizationLevel) : 'basic';
}

export default createApp((env) => (registry ??= new ModelRegistry(bundledModels, { graphOptimizationLevel: graphOptimizationLevel(env.ORT_GRAPH_OPTIMIZATION) })));
