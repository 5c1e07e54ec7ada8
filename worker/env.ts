// Bindings and per-request variables: the typed context every route and middleware shares.
import type { FallbackTracker } from './health/fallbacks.ts';
import type { ModelRegistry } from './model/registry.ts';

export interface Bindings {
  /** Workers KV feature store (DESIGN.md, "KV layout") */
  FEATURES: KVNamespace;
  /** id of the model that serves when no experiment says otherwise (wrangler.toml sets it; unset: the first bundled) */
  DEFAULT_MODEL?: string;
  /** how long an isolate caches the fs:active pointer, in milliseconds (default 10000) */
  FEATURE_SET_REFRESH_MS?: string;
  /** per-request deadline for waiting on KV (records, fs:active, the experiments config), ms (default 50; README, "Reliability") */
  RANK_DEADLINE_MS?: string;
  /** record cache (worker/features/record-cache.ts): how long a record is fresh, ms (default 60000; 0 turns the cache off) */
  FEATURE_CACHE_TTL_MS?: string;
  /** how long past its TTL a record may be served while one background refresh runs, ms (default 300000) */
  FEATURE_CACHE_STALE_MS?: string;
  /** how long a missing or corrupt key is remembered as missing, ms (default 10000) */
  FEATURE_CACHE_NEGATIVE_TTL_MS?: string;
  /** at most this many cached records (default 100000) */
  FEATURE_CACHE_MAX_ENTRIES?: string;
  /** at most about this many MB of decoded records (default 32, for a 128 MB isolate) */
  FEATURE_CACHE_MAX_MB?: string;
  /**
   * onnxruntime graph optimisation level of the model sessions: "basic" (default; the graph's own
   * arithmetic, what the parity tests compare), "extended" or "all" (fused int8 layers, faster; see
   * README, Performance). Read when the isolate builds its registry.
   */
  ORT_GRAPH_OPTIMIZATION?: string;
  /**
   * "off" leaves ORT and the model sessions to the first request that needs them instead of the
   * isolate's start-up (worker/index.ts; README, "Performance"). Default: loaded at start-up.
   */
  ORT_PRELOAD?: string;
  /** "on" enables the /bench/* routes (routes/bench.ts); set only by `npm run bench` via --var */
  BENCH_ROUTES?: string;
  /** "on" serves GET /playground/samples (routes/playground.ts: user and item ids listed from KV); set by `npm start` via --var */
  PLAYGROUND_SAMPLES?: string;
  /**
   * The experiments config as JSON (worker/experiments/config.ts; README, "Experiments"). The KV key
   * config:experiments, when set, wins over it. Unset: one arm, 'default'.
   */
  EXPERIMENTS?: string;
  /** how long an isolate keeps the KV config:experiments before reading it again, ms (default 30000) */
  EXPERIMENTS_REFRESH_MS?: string;
  /** secret: the key of the assignment hash and of the hashed user ids in the exposure log */
  EXPERIMENT_SALT?: string;
  /** secret: the token (x-experiment-token or Authorization: Bearer) that makes x-experiment-arm count */
  EXPERIMENT_OVERRIDE_TOKEN?: string;
  /** secret: the bearer token of the /admin/* routes (unset: they answer 503); also accepted for x-experiment-arm */
  ADMIN_TOKEN?: string;
  /** origins allowed to call /v1/* from a browser, comma-separated (e.g. "https://shop.example"; "*" any; unset: none) */
  CORS_ORIGINS?: string;
  /** where exposure rows go: "queue" (default when EXPOSURES is bound), "kv" (local dev, tests: log:* keys in FEATURES) or "off" */
  EXPOSURE_SINK?: string;
  /** Queue producer of the exposure log (production sink) */
  EXPOSURES?: Queue;
}

export interface Variables {
  registry: ModelRegistry;
  /** this app's fallback counters (one app per isolate in production), for /healthz */
  fallbacks: FallbackTracker;
}

export interface AppEnv {
  Bindings: Bindings;
  Variables: Variables;
}
