// Fault injection for the soak without test-only hooks in the worker: records written into the
// soak's own KV, under the live feature-set version, that a real store could end up holding (a torn
// or hand-edited value, NaN/Infinity spelled as strings, wrong types, values that are not objects,
// an oversized record), plus ids that were never written. Requests that name them are well-formed,
// so the worker must answer them 200 with defaults, never a 5xx.
import { itemKey, userKey } from '../../model/features/kv-layout.ts';
import type { KvTarget } from '../backfill/kv-target.ts';

/** Raw KV values by id suffix; the same shapes serve users and items. */
function faultValues(kind: 'user' | 'item'): Record<string, string> {
  const huge: Record<string, number> = {};
  for (let i = 0; i < 4_000; i++) huge[`c${i}`] = i / 7;
  const deep = `${'['.repeat(2_000)}${']'.repeat(2_000)}`;
  const nanLike =
    kind === 'user'
      ? { segment: 'NaN', loyalty_tier: null, tenure_days: 'Infinity', impressions: -1e308, clicks: 1e308, purchases: '-Infinity', click_coec: 'NaN', category_affinity: { toys: 'NaN', books: 1e308 }, brand_affinity: [1, 2], avg_click_price: 1e308 }
      : { category: 'NaN', brand: null, price: 'Infinity', rating: 1e308, age_days: -1e308, impressions: 'NaN', clicks: 1e308, purchases: -1, click_coec: '-Infinity', segment_coec: { a: 'NaN' }, brand_segment_affinity: [0], cvr: 1e308 };
  const wrongTypes =
    kind === 'user'
      ? { segment: 123, loyalty_tier: ['gold'], tenure_days: true, impressions: {}, clicks: '7', click_coec: null, category_affinity: 'toys', brand_affinity: 42, avg_click_price: false }
      : { category: 7, brand: ['x'], price: '12.50', rating: true, age_days: {}, impressions: null, clicks: 'many', click_coec: [], segment_coec: 'a', brand_segment_affinity: 3, cvr: 'high' };
  return {
    'corrupt-json': '{"segment": "a", "tenure_days": 3',
    'nan-literal': '{"price": NaN, "rating": Infinity, "tenure_days": -Infinity}',
    'not-object': '[1, 2, 3]',
    string: '"just a string"',
    null: 'null',
    empty: '',
    'nan-like': JSON.stringify(nanLike),
    'wrong-types': JSON.stringify(wrongTypes),
    huge: JSON.stringify(kind === 'user' ? { segment: 'a', category_affinity: huge, brand_affinity: huge } : { category: 'c', segment_coec: huge, brand_segment_affinity: huge }),
    deep,
  };
}

export interface FaultIds {
  /** users whose records are faulty (written) or absent (never written) */
  users: string[];
  items: string[];
}

const MISSING = ['missing-1', 'missing-2'];

/** Writes the faulty records under `version` and returns every fault id (written and missing). */
export async function writeFaultRecords(kv: KvTarget, version: string): Promise<FaultIds> {
  const ids: FaultIds = { users: [], items: [] };
  for (const [kind, key, list] of [['user', userKey, ids.users], ['item', itemKey, ids.items]] as const) {
    const prefix = kind === 'user' ? 'u-fault-' : 'i-fault-';
    for (const [name, value] of Object.entries(faultValues(kind))) {
      await kv.put(key(version, prefix + name), value);
      list.push(prefix + name);
    }
    for (const name of MISSING) list.push(prefix + name);
  }
  return ids;
}
