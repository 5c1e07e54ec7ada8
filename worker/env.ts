// Bindings and per-request variables: the typed context every route and middleware shares.
import type { ModelRegistry } from './model/registry.ts';

export interface Bindings {
  /** Workers KV feature store (DESIGN.md, "KV layout") */
  FEATURES: KVNamespace;
  /** id of the model that serves when no experiment says otherwise (default: the first bundled) */
  DEFAULT_MODEL?: string;
  /** how long an isolate caches the fs:active pointer, in milliseconds (default 10000) */
  FEATURE_SET_REFRESH_MS?: string;
  /** per-request deadline in milliseconds for feature reads and scoring */
  RANK_DEADLINE_MS?: string;
}

export interface Variables {
  registry: ModelRegistry;
}

export interface AppEnv {
  Bindings: Bindings;
  Variables: Variables;
}
