// A KV binding wrapped for the worker tests: counts the calls that reach Miniflare's KV, can answer
// fs:active with a test's own pointer (so a test never moves the fs:active other files rely on),
// and can fail on demand.
import { FEATURE_SET_SCHEMA } from '../../model/features/records.ts';
import { env } from 'cloudflare:workers';
import { ACTIVE_KEY } from '../../model/features/kv-layout.ts';

export interface KvProbe {
  kv: KVNamespace;
  /** bulk gets and the keys they asked for, single gets (fs:active) */
  calls: { bulk: number; keys: number; single: number };
  /** what fs:active answers; undefined = the real KV's value */
  active: string | null | undefined;
  failing: boolean;
}

export function probe(active?: { version: string } | null): KvProbe {
  const p: KvProbe = {
    kv: undefined as unknown as KVNamespace,
    calls: { bulk: 0, keys: 0, single: 0 },
    active: active === undefined ? undefined : active === null ? null : JSON.stringify({ ...active, schema: FEATURE_SET_SCHEMA, written_at: '', users: 0, items: 0 }),
    failing: false,
  };
  p.kv = {
    get(key: string | string[], type?: unknown) {
      if (p.failing) return Promise.reject(new Error('KV is down'));
      if (Array.isArray(key)) {
        p.calls.bulk++;
        p.calls.keys += key.length;
      } else {
        p.calls.single++;
        if (key === ACTIVE_KEY && p.active !== undefined) return Promise.resolve(p.active);
      }
      return (env.FEATURES.get as (k: unknown, t: unknown) => Promise<unknown>)(key, type);
    },
  } as unknown as KVNamespace;
  return p;
}
