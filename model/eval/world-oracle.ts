// Ground-truth quantities of the synthetic world for logged slates: the oracle's probabilities per
// row, and the expected clicks and revenue of serving a slate's items in a given order (position
// bias included), so rankings can be compared by what they would have earned.
import type { LabelledSlate } from '../dataset/slates.ts';
import type { GroundTruth } from '../world/ground-truth.ts';
import { sigmoid, type World } from '../world/index.ts';

export interface SlateTruth {
  /** P(click | shown at position 1): the position-free attractiveness */
  pClickTop: Float64Array;
  pPurchaseGivenClick: Float64Array;
  price: Float64Array;
}

/**
 * The slate's true probabilities under `truth`: the world's own by default, or another ground truth
 * over the same users and items (the segment-level ceiling).
 */
export function slateTruth(world: World, slate: LabelledSlate, truth: GroundTruth = world.truth): SlateTruth {
  const user = world.userIndex(slate.userId ?? '');
  if (user === undefined) throw new Error(`slate ${slate.requestId}: user ${slate.userId} is not in the world`);
  const context = world.contextOf({ device: String(slate.context.device), page: String(slate.context.page), ts: slate.ts });
  const n = slate.items.length;
  const out: SlateTruth = { pClickTop: new Float64Array(n), pPurchaseGivenClick: new Float64Array(n), price: new Float64Array(n) };
  slate.items.forEach((row, i) => {
    const item = world.itemIndex(row.id);
    if (item === undefined) throw new Error(`slate ${slate.requestId}: item ${row.id} is not in the world`);
    out.pClickTop[i] = truth.attractiveness(user, item, context);
    out.pPurchaseGivenClick[i] = sigmoid(truth.purchaseLogit(user, item, context));
    const price = row.inline?.price ?? world.catalogItem(item).price;
    out.price[i] = typeof price === 'number' ? price : Number(price);
  });
  return out;
}

/** Expected clicks, purchases and revenue of showing the slate's rows in `order` (row indices). */
export function expectedOutcome(world: World, truth: SlateTruth, order: ArrayLike<number>): { clicks: number; purchases: number; revenue: number } {
  let clicks = 0;
  let purchases = 0;
  let revenue = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    const click = world.examination(k + 1) * truth.pClickTop[i]!;
    const buy = click * truth.pPurchaseGivenClick[i]!;
    clicks += click;
    purchases += buy;
    revenue += buy * truth.price[i]!;
  }
  return { clicks, purchases, revenue };
}

/** Row indices by descending score; ties keep the logged order. */
export function orderBy(scores: ArrayLike<number>): number[] {
  return Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
}
