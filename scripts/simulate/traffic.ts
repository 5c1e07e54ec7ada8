// Simulated traffic: users of the synthetic world ask for slates over HTTP, and what they do with
// the served slate is drawn from the world's ground truth at the served positions - a click with
// world.pClick(user, item, context, position), then a purchase with pPurchaseGivenClick. Every
// request has its own random streams (by index), so the outcome of request i does not depend on
// the order in which concurrent requests complete.
import type { ExposureOutcome } from '../../model/data/exposure-row.ts';
import { Rng, type World, type WorldContext } from '../../model/world/index.ts';

export interface SimRequest {
  index: number;
  requestId: string;
  userIndex: number;
  context: WorldContext;
  candidates: Uint32Array;
  body: { request_id: string; user_id: string; context: { device: string; page: string; time: number }; items: Array<{ id: string; price: number }> };
}

export function simRequest(world: World, seed: number, runId: string, index: number): SimRequest {
  const rng = Rng.stream(seed, `request-${index}`);
  const sampled = world.sampleRequest(rng);
  const requestId = `sim-${runId}-${index}`;
  return {
    index,
    requestId,
    userIndex: sampled.userIndex,
    context: sampled.context,
    candidates: sampled.candidates,
    body: {
      request_id: requestId,
      user_id: world.userId(sampled.userIndex),
      context: { device: sampled.context.device, page: sampled.context.page, time: sampled.context.ts },
      // the storefront sends today's price inline, as the backfilled catalog has it
      items: Array.from(sampled.candidates, (item) => ({ id: world.itemId(item), price: world.items.price[item]! })),
    },
  };
}

export interface ServedOutcome {
  outcomes: ExposureOutcome[];
  /** the ground truth's expectation for this served order (no sampling noise) */
  expected: { clicks: number; purchases: number; revenue: number };
}

/** Clicks and purchases for the items in served order (ids), drawn from the ground truth. */
export function drawOutcomes(world: World, seed: number, request: SimRequest, servedIds: readonly string[]): ServedOutcome {
  const rng = Rng.stream(seed, `outcome-${request.index}`);
  const outcomes: ExposureOutcome[] = [];
  const expected = { clicks: 0, purchases: 0, revenue: 0 };
  servedIds.forEach((id, k) => {
    const item = world.itemIndex(id);
    if (item === undefined) throw new Error(`the worker served ${id}, which is not an item of the world`);
    const pClick = world.pClick(request.userIndex, item, request.context, k + 1);
    const pBuy = world.pPurchaseGivenClick(request.userIndex, item, request.context);
    const price = world.items.price[item]!;
    expected.clicks += pClick;
    expected.purchases += pClick * pBuy;
    expected.revenue += pClick * pBuy * price;
    const clicked = rng.uniform() < pClick;
    const purchased = clicked && rng.uniform() < pBuy;
    if (clicked) outcomes.push({ request_id: request.requestId, item_id: id, clicked: 1, purchased: purchased ? 1 : 0 });
  });
  return { outcomes, expected };
}
