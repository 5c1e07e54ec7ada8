// The impression log, generated in memory and in time order: requests from the logging policy,
// each shown item's click and purchase drawn from the ground truth at its position.
import type { Impression } from '../data/impressions.ts';
import { IdFormat } from './ids.ts';
import type { Rng } from './rng.ts';
import type { SampledRequest, World } from './world.ts';

/** One logged request with the oracle's probabilities alongside the outcomes (index k = position k + 1). */
export interface LoggedSlate extends SampledRequest {
  requestId: string;
  clicked: Uint8Array;
  purchased: Uint8Array;
  pClick: Float64Array;
  pPurchaseGivenClick: Float64Array;
}

/**
 * Slate sizes for a log of exactly `count` rows: uniform in the settings' range, the last one cut
 * short where needed. Held as one small array because the request times must be drawn in order
 * and that needs the number of requests up front.
 */
function drawSlateSizes(world: World, count: number, rng: Rng): Uint16Array {
  const { min, max } = world.settings.slateSize;
  let sizes = new Uint16Array(Math.max(16, Math.ceil((2 * count) / (min + max)) + 16));
  let requests = 0;
  for (let rows = 0; rows < count; requests++) {
    if (requests === sizes.length) {
      const grown = new Uint16Array(sizes.length * 2);
      grown.set(sizes);
      sizes = grown;
    }
    const size = Math.min(rng.intBetween(min, max), count - rows);
    sizes[requests] = size;
    rows += size;
  }
  return sizes.subarray(0, requests);
}

/** Logged requests totalling `count` impressions, in ascending time (ties keep request order). */
export function* generateLoggedSlates(world: World, count: number, rng: Rng): Generator<LoggedSlate> {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`impression count must be a non-negative integer, got ${count}`);
  const sizes = drawSlateSizes(world, count, rng);
  const requestIds = new IdFormat('r', sizes.length);
  let request = 0;
  for (const ts of world.cycle.sortedTimes(sizes.length, rng)) {
    const sampled = world.sampleRequest(rng, { ts, slateSize: sizes[request]! });
    const size = sampled.candidates.length;
    const slate: LoggedSlate = {
      ...sampled,
      requestId: requestIds.id(request),
      clicked: new Uint8Array(size),
      purchased: new Uint8Array(size),
      pClick: new Float64Array(size),
      pPurchaseGivenClick: new Float64Array(size),
    };
    for (let k = 0; k < size; k++) {
      const item = sampled.candidates[k]!;
      const pClick = world.pClick(sampled.userIndex, item, sampled.context, k + 1);
      const pPurchase = world.pPurchaseGivenClick(sampled.userIndex, item, sampled.context);
      slate.pClick[k] = pClick;
      slate.pPurchaseGivenClick[k] = pPurchase;
      if (rng.uniform() < pClick) {
        slate.clicked[k] = 1;
        if (rng.uniform() < pPurchase) slate.purchased[k] = 1;
      }
    }
    yield slate;
    request++;
  }
}

/** The rows of one logged slate, position 1 first. */
export function slateImpressions(world: World, slate: LoggedSlate): Impression[] {
  const userId = world.userId(slate.userIndex);
  return Array.from(slate.candidates, (item, k) => ({
    request_id: slate.requestId,
    ts: slate.context.ts,
    user_id: userId,
    device: slate.context.device,
    page: slate.context.page,
    item_id: world.itemId(item),
    position: k + 1,
    clicked: slate.clicked[k] ? 1 : 0,
    purchased: slate.purchased[k] ? 1 : 0,
    price: world.items.price[item]!,
  }));
}

/** Exactly `count` impressions in time order, as the log files hold them. */
export function* generateImpressions(world: World, count: number, rng: Rng): Generator<Impression> {
  for (const slate of generateLoggedSlates(world, count, rng)) yield* slateImpressions(world, slate);
}
