// The ground truth: P(click | user, item, context, position) = examination(position) x
// sigmoid(click logit), and P(purchase | click) = sigmoid(purchase logit). Both lean on hidden
// user and item quantities (latent tastes, true affinities and sensitivities, quality, appeal) that
// the tables reveal only through noisy or coarse proxies (segment, tier, brand, rating, price), so
// a model trained on the log cannot reach the oracle.
import type { ItemTable } from './catalog.ts';
import { hourOf } from './daily-cycle.ts';
import { sigmoid } from './math.ts';
import { CATEGORIES, LOYALTY_TIERS, SEGMENTS, TRUTH, type Device, type Page } from './spec.ts';
import type { UserTable } from './users.ts';

/** Where and when a slate is shown. */
export interface WorldContext {
  device: Device;
  page: Page;
  /** epoch ms */
  ts: number;
}

/** The user's price term: sensitivity x how much dearer the item is than the user usually pays. */
function priceTerm(sensitivity: number, relativeLogPrice: number, userPriceLevel: number, cheaperGain: number): number {
  const dearer = relativeLogPrice - userPriceLevel;
  return -sensitivity * (dearer > 0 ? dearer : cheaperGain * dearer);
}

export class GroundTruth {
  private readonly latentScale: number;
  private readonly hourEffect = new Float64Array(24);

  constructor(
    private readonly users: UserTable,
    private readonly items: ItemTable,
    private readonly latentDim: number,
  ) {
    this.latentScale = 1 / Math.sqrt(latentDim);
    for (let h = 0; h < 24; h++) this.hourEffect[h] = TRUTH.click.hour * Math.cos((2 * Math.PI * (h - TRUTH.click.hourPeak)) / 24);
  }

  /** Chance that the user looks at position p (1-based); 1 at the top, decreasing. */
  examination(position: number): number {
    return position ** -TRUTH.examinationExponent;
  }

  /** dot(user latent, item latent) / sqrt(dim): about N(0, 1) over random pairs. */
  latentMatch(user: number, item: number): number {
    const dim = this.latentDim;
    const u = this.users.latent;
    const v = this.items.latent;
    let dot = 0;
    for (let d = 0; d < dim; d++) dot += u[user * dim + d]! * v[item * dim + d]!;
    return dot * this.latentScale;
  }

  private affinity(user: number, item: number): number {
    return this.users.affinity[user * CATEGORIES.length + this.items.category[item]!]!;
  }

  /** Logit of the item's attractiveness: the click chance once the user has looked at it. */
  clickLogit(user: number, item: number, context: WorldContext): number {
    const w = TRUTH.click;
    const users = this.users;
    const items = this.items;
    return (
      w.base +
      w.affinity * this.affinity(user, item) +
      w.latent * this.latentMatch(user, item) +
      w.popularity * items.appeal[item]! +
      w.quality * items.quality[item]! +
      w.price * priceTerm(users.priceSensitivity[user]!, items.relativeLogPrice[item]!, users.priceLevel[user]!, w.cheaperGain) +
      w.novelty * Math.exp(-items.ageDays[item]! / w.noveltyDays) +
      this.hourEffect[hourOf(context.ts)]! +
      w.device[context.device] +
      w.page[context.page] +
      w.loyalty[LOYALTY_TIERS[users.loyaltyTier[user]!]!]
    );
  }

  attractiveness(user: number, item: number, context: WorldContext): number {
    return sigmoid(this.clickLogit(user, item, context));
  }

  /** Logit of P(purchase | click); the position does not matter once the item is clicked. */
  purchaseLogit(user: number, item: number, context: WorldContext): number {
    const w = TRUTH.purchase;
    const users = this.users;
    const items = this.items;
    return (
      w.base +
      SEGMENTS[users.segment[user]!]!.purchase +
      w.quality * items.quality[item]! +
      w.affinity * this.affinity(user, item) +
      w.latent * this.latentMatch(user, item) +
      w.price * priceTerm(users.priceSensitivity[user]!, items.relativeLogPrice[item]!, users.priceLevel[user]!, w.cheaperGain) +
      w.device[context.device] +
      w.page[context.page] +
      w.loyalty[LOYALTY_TIERS[users.loyaltyTier[user]!]!]
    );
  }
}
