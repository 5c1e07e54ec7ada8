// The soak's request mix, built once before the run (so the load loop only picks and sends):
//   valid    rank requests over the world's users and items (the bench's bodies: 10-300 items)
//   fault    well-formed rank requests naming users and items whose KV records are faulty or absent
//            (faults.ts): the worker must still answer 200, with defaults
//   invalid  requests the worker must refuse with a 4xx: malformed JSON, wrong types, too many items,
//            wrong content type, an oversized body, and a few more
import type { Rng } from '../../model/world/index.ts';
import type { FaultIds } from './faults.ts';

export type RequestClass = 'valid' | 'fault' | 'invalid';
export const REQUEST_CLASSES: readonly RequestClass[] = ['valid', 'fault', 'invalid'];

export interface SoakRequest {
  class: RequestClass;
  /** what the request exercises, for the per-kind counts */
  kind: string;
  method: 'GET' | 'POST';
  contentType: string | null;
  body: string | null;
}

const JSON_TYPE = 'application/json';

function rank(kind: string, klass: RequestClass, body: unknown, contentType: string | null = JSON_TYPE): SoakRequest {
  return { class: klass, kind, method: 'POST', contentType, body: typeof body === 'string' ? body : JSON.stringify(body) };
}

/** Well-formed requests that hit the faulty records: every fault user, every fault item, mixed with real items. */
export function faultRequests(faults: FaultIds, itemIds: readonly string[], rng: Rng, count = 24): SoakRequest[] {
  const out: SoakRequest[] = [];
  for (let n = 0; n < count; n++) {
    const items: Array<{ id: string; price?: number }> = [];
    const picked = new Set<string>();
    // A few fault items and a few real ones, in a seeded order; some with an inline price.
    for (let i = 0; i < 4; i++) picked.add(faults.items[(n * 4 + i) % faults.items.length]!);
    while (picked.size < 20) picked.add(itemIds[rng.int(itemIds.length)]!);
    for (const id of [...picked].sort(() => rng.uniform() - 0.5)) items.push(rng.bernoulli(0.5) ? { id, price: Math.round(rng.uniform() * 10_000) / 100 } : { id });
    const user = n % 5 === 4 ? undefined : faults.users[n % faults.users.length];
    out.push(rank('fault-records', 'fault', { request_id: `soak-fault-${n}`, ...(user ? { user_id: user } : {}), context: { device: 'mobile', page: 'search' }, items, explain: n % 3 === 0 }));
  }
  return out;
}

/** Requests the worker must answer with a 4xx (never a 5xx, never a hang). */
export function invalidRequests(itemIds: readonly string[]): SoakRequest[] {
  const items = (n: number) => Array.from({ length: n }, (_, i) => ({ id: itemIds[i % itemIds.length]! + (i >= itemIds.length ? `-${i}` : '') }));
  const ok = { user_id: 'u000001', items: items(3) };
  return [
    rank('malformed-json', 'invalid', '{"user_id": "u000001", "items": [{"id": "i000001"'),
    rank('malformed-json', 'invalid', '{"items": [}'),
    rank('not-an-object', 'invalid', '[{"id": "i000001"}]'),
    rank('empty-body', 'invalid', ''),
    rank('wrong-type', 'invalid', { items: 'i000001' }),
    rank('wrong-type', 'invalid', { user_id: 42, items: items(2) }),
    rank('wrong-type', 'invalid', { items: [{ id: 7 }] }),
    rank('wrong-type', 'invalid', { items: [{ id: 'i000001', price: 'cheap' }] }),
    rank('wrong-type', 'invalid', { ...ok, k: '3' }),
    rank('wrong-type', 'invalid', { ...ok, context: { device: ['mobile'] } }),
    rank('out-of-range', 'invalid', { items: [{ id: 'i000001', price: -5 }] }),
    rank('empty-items', 'invalid', { items: [] }),
    rank('duplicate-ids', 'invalid', { items: [{ id: 'i000001' }, { id: 'i000001' }] }),
    rank('unknown-field', 'invalid', { ...ok, debug: true }),
    rank('too-many-items', 'invalid', { user_id: 'u000001', items: items(501) }),
    rank('too-long-id', 'invalid', { items: [{ id: 'x'.repeat(129) }] }),
    rank('wrong-content-type', 'invalid', ok, 'text/plain'),
    rank('no-content-type', 'invalid', ok, null),
    // Over the 512 KiB limit: a valid-looking request padded with long strings.
    rank('oversized-body', 'invalid', { ...ok, context: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`pad${i}`, 'x'.repeat(20_000)])) }),
    { class: 'invalid', kind: 'wrong-method', method: 'GET', contentType: null, body: null },
  ];
}

/** Picks a request class by weight, then a request of that class. */
export function requestPicker(pools: Record<RequestClass, readonly SoakRequest[]>, weights: Record<RequestClass, number>): (rng: Rng) => SoakRequest {
  const classes = REQUEST_CLASSES.filter((c) => weights[c] > 0 && pools[c].length > 0);
  const sum = classes.reduce((s, c) => s + weights[c], 0);
  if (classes.length === 0 || !(sum > 0)) throw new Error('the request mix is empty');
  return (rng) => {
    let r = rng.uniform() * sum;
    let chosen = classes[classes.length - 1]!;
    for (const c of classes) {
      r -= weights[c];
      if (r < 0) {
        chosen = c;
        break;
      }
    }
    const pool = pools[chosen];
    return pool[rng.int(pool.length)]!;
  };
}
