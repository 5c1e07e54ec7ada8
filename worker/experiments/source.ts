// Where the experiments config comes from, cached per isolate: the KV key `config:experiments` (in
// the FEATURES namespace) when it holds a value, else the wrangler var EXPERIMENTS, else the
// built-in single 'default' arm. A config is parsed, validated and compiled once per distinct text;
// KV is re-read every EXPERIMENTS_REFRESH_MS (default 30 s) in the background while the previous
// value keeps serving. An invalid config never fails a request: the built-in default serves, and
// /healthz reports the error (status 'degraded') until it is fixed. The first read of an isolate
// is shared by the requests that arrive meanwhile, each waiting at most until its deadline (then it
// serves the var or built-in config); POST /admin/config/reload re-reads it at once.
import type { Bindings } from '../env.ts';
import type { ModelRegistry } from '../model/registry.ts';
import { SHARED_READ_TIMEOUT_MS, withTimeout, type Deadline } from '../rank/deadline.ts';
import { compileExperiments, defaultExperiments, ExperimentsConfigError, parseExperimentsConfig, type CompiledExperiments } from './config.ts';

export const EXPERIMENTS_KV_KEY = 'config:experiments';
export const DEFAULT_EXPERIMENTS_REFRESH_MS = 30_000;

export interface LoadedExperiments {
  experiments: CompiledExperiments;
  /** why the configured experiments are not the ones serving, if they are not */
  error: string | null;
}

interface KvSnapshot {
  text: string | null;
  readAt: number;
  refreshing: boolean;
}

class ExperimentsSource {
  private readonly compiled = new Map<string, LoadedExperiments>();
  private kv: KvSnapshot | undefined;
  /** the synchronous read in flight (first read, or refresh interval 0), shared by concurrent requests */
  private reading: Promise<string | null> | undefined;
  private fallback: LoadedExperiments | undefined;

  constructor(private readonly registry: ModelRegistry) {}

  async current(env: Bindings, options: ExperimentsOptions = {}, now = Date.now()): Promise<LoadedExperiments> {
    const refreshMs = refreshInterval(env.EXPERIMENTS_REFRESH_MS);
    let text: string | null = null;
    let kvError: string | null = null;
    try {
      text = await this.kvText(env.FEATURES, refreshMs, now, options);
    } catch (error) {
      kvError = `reading ${EXPERIMENTS_KV_KEY} failed: ${error instanceof Error ? error.message : String(error)}`;
    }
    const source: 'kv' | 'var' | 'none' = text !== null ? 'kv' : env.EXPERIMENTS?.trim() ? 'var' : 'none';
    const raw = source === 'kv' ? text! : source === 'var' ? env.EXPERIMENTS! : '';
    const loaded = this.load(source, raw, env.DEFAULT_MODEL);
    return kvError && !loaded.error ? { ...loaded, error: kvError } : loaded;
  }

  private load(source: 'kv' | 'var' | 'none', raw: string, defaultModel: string | undefined): LoadedExperiments {
    const cacheKey = `${source}\u0000${defaultModel ?? ''}\u0000${raw}`;
    let loaded = this.compiled.get(cacheKey);
    if (loaded) return loaded;
    if (source === 'none') {
      loaded = { experiments: defaultExperiments(this.registry, defaultModel), error: null };
    } else {
      const where = source === 'kv' ? `KV ${EXPERIMENTS_KV_KEY}` : 'EXPERIMENTS';
      try {
        loaded = { experiments: compileExperiments(parseExperimentsConfig(raw, where), this.registry, source, defaultModel), error: null };
      } catch (error) {
        const message = error instanceof ExperimentsConfigError ? error.message : `${where}: ${error instanceof Error ? error.message : String(error)}`;
        console.error(`invalid experiments config, serving the default arm: ${message}`);
        this.fallback ??= { experiments: defaultExperiments(this.registry, defaultModel), error: null };
        loaded = { experiments: this.fallback.experiments, error: message };
      }
    }
    if (this.compiled.size >= 8) this.compiled.clear();
    this.compiled.set(cacheKey, loaded);
    return loaded;
  }

  /** Forgets the KV value, so the next request reads it again before it is served. */
  async reload(env: Bindings): Promise<LoadedExperiments> {
    this.kv = undefined;
    this.reading = undefined;
    return this.current(env);
  }

  /** The KV value: read synchronously the first time, then refreshed in the background. */
  private async kvText(kv: KVNamespace, refreshMs: number, now: number, options: ExperimentsOptions): Promise<string | null> {
    const { waitUntil, deadline } = options;
    const snapshot = this.kv;
    if (snapshot === undefined || refreshMs === 0) {
      let reading = this.reading;
      if (!reading) {
        // bounded, so a hung read cannot stay shared forever; kept alive past the request that started it
        const started = withTimeout(kv.get(EXPERIMENTS_KV_KEY, 'text'), SHARED_READ_TIMEOUT_MS, `KV ${EXPERIMENTS_KV_KEY}`).then(
          (text) => {
            if (this.reading === started) this.kv = { text, readAt: now, refreshing: false };
            return text;
          },
        );
        const settle = () => {
          if (this.reading === started) this.reading = undefined;
        };
        started.then(settle, settle);
        this.reading = reading = started;
        waitUntil?.(started.catch(() => undefined));
      }
      return deadline ? deadline.race(reading, `KV ${EXPERIMENTS_KV_KEY} (deadline ${deadline.ms} ms)`) : reading;
    }
    if (now - snapshot.readAt >= refreshMs && !snapshot.refreshing) {
      snapshot.refreshing = true;
      const refresh = kv.get(EXPERIMENTS_KV_KEY, 'text').then(
        (text) => {
          this.kv = { text, readAt: Date.now(), refreshing: false };
        },
        (error: unknown) => {
          snapshot.refreshing = false;
          snapshot.readAt = Date.now(); // try again after another interval
          console.error(`refreshing ${EXPERIMENTS_KV_KEY} failed; keeping the previous config`, error);
        },
      );
      waitUntil?.(refresh);
    }
    return snapshot.text;
  }
}

function refreshInterval(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return DEFAULT_EXPERIMENTS_REFRESH_MS;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : DEFAULT_EXPERIMENTS_REFRESH_MS;
}

export interface ExperimentsOptions {
  /** keeps background reads alive after the response */
  waitUntil?: ((p: Promise<unknown>) => void) | undefined;
  /** how long this request may wait for a KV read of the config */
  deadline?: Deadline | undefined;
}

const sources = new WeakMap<ModelRegistry, WeakMap<KVNamespace, ExperimentsSource>>();

function sourceFor(env: Bindings, registry: ModelRegistry): ExperimentsSource {
  let byKv = sources.get(registry);
  if (!byKv) sources.set(registry, (byKv = new WeakMap()));
  let source = byKv.get(env.FEATURES);
  if (!source) byKv.set(env.FEATURES, (source = new ExperimentsSource(registry)));
  return source;
}

/** The experiments serving this request (per isolate, per registry and KV binding). */
export function experimentsFor(env: Bindings, registry: ModelRegistry, options: ExperimentsOptions = {}): Promise<LoadedExperiments> {
  return sourceFor(env, registry).current(env, options);
}

/** Re-reads config:experiments from KV now (POST /admin/config/reload). */
export function reloadExperiments(env: Bindings, registry: ModelRegistry): Promise<LoadedExperiments> {
  return sourceFor(env, registry).reload(env);
}
