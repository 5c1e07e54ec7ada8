// The World: tables, ground truth and request sampling behind one object, built deterministically
// from its settings. Offline code (oracle metrics, the online simulator) talks to it by user and
// item index; ids convert both ways without lookup tables.
import type { CatalogItem, Impression, UserProfile } from '../data/impressions.ts';
import { CandidateGenerator } from './candidates.ts';
import { generateCatalog, type ItemTable } from './catalog.ts';
import { DailyCycle, MS_PER_DAY } from './daily-cycle.ts';
import { GroundTruth, type WorldContext } from './ground-truth.ts';
import { sigmoid } from './math.ts';
import { drawWorldParams, type WorldParams } from './params.ts';
import { cumulativeSums, type Rng } from './rng.ts';
import { validateSettings, type WorldSettings } from './settings.ts';
import { CATEGORIES, DEVICES, LOYALTY_TIERS, PAGES, SEGMENTS, TRUTH, WORLD_VERSION, type Device, type Page } from './spec.ts';
import { generateUsers, type UserTable } from './users.ts';

export type { WorldContext } from './ground-truth.ts';

/** One request as the logging system saw it: who, where and when, and the slate in logged order. */
export interface SampledRequest {
  userIndex: number;
  context: WorldContext;
  /** distinct item indices, in the logging policy's order (position 1 first) */
  candidates: Uint32Array;
}

/** The settings and every ground-truth parameter, as plain JSON for reports. */
export interface WorldDescription {
  version: string;
  settings: WorldSettings;
  /** the log's time window, ISO 8601 UTC (end exclusive) */
  window: { start: string; end: string };
  groundTruth: {
    pClick: string;
    pPurchaseGivenClick: string;
    examination: { form: string; exponent: number; firstPositions: number[] };
    hidden: string[];
    effects: typeof TRUTH;
    segments: { name: string; share: number; priceSensitivity: number; priceLevel: number; activity: number; purchase: number; categoryAffinity: Record<string, number> }[];
    categories: { name: string; medianPrice: number; share: number; items: number; brands: number }[];
  };
}

const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;

export class World {
  readonly params: WorldParams;
  readonly users: UserTable;
  readonly items: ItemTable;
  readonly truth: GroundTruth;
  readonly cycle: DailyCycle;
  private readonly candidates: CandidateGenerator;
  private readonly deviceCumulative = cumulativeSums(DEVICES.map((d) => TRUTH.deviceShare[d]));
  private readonly pageCumulative = cumulativeSums(PAGES.map((p) => TRUTH.pageShare[p]));

  constructor(readonly settings: WorldSettings) {
    validateSettings(settings);
    this.params = drawWorldParams(settings);
    this.users = generateUsers(settings, this.params);
    this.items = generateCatalog(settings, this.params);
    this.truth = new GroundTruth(this.users, this.items, settings.latentDim);
    this.cycle = new DailyCycle(settings.startTs, settings.days, TRUTH.traffic.amplitude, TRUTH.traffic.peakHourUtc);
    this.candidates = new CandidateGenerator(this.users, this.items, this.params.brands);
  }

  // --- ground truth -------------------------------------------------------------------------

  /** Chance that position p (1-based) is looked at; examination(1) = 1, decreasing. */
  examination(position: number): number {
    if (!Number.isInteger(position) || position < 1) throw new RangeError(`position must be an integer >= 1, got ${position}`);
    return this.truth.examination(position);
  }

  /** P(click) at position 1, i.e. the item's attractiveness to the user in this context. */
  pClickTop(user: number, item: number, context: WorldContext): number {
    return this.truth.attractiveness(user, item, context);
  }

  pClick(user: number, item: number, context: WorldContext, position: number): number {
    return this.examination(position) * this.truth.attractiveness(user, item, context);
  }

  pPurchaseGivenClick(user: number, item: number, context: WorldContext): number {
    return sigmoid(this.truth.purchaseLogit(user, item, context));
  }

  /** P(click and purchase) at a position: what pCTCVR estimates. */
  pPurchase(user: number, item: number, context: WorldContext, position: number): number {
    return this.pClick(user, item, context, position) * this.pPurchaseGivenClick(user, item, context);
  }

  /** The oracle's probabilities for a logged impression (throws on an id or context it does not know). */
  impressionTruth(impression: Impression): { pClick: number; pPurchaseGivenClick: number } {
    const user = this.requireUserIndex(impression.user_id);
    const item = this.requireItemIndex(impression.item_id);
    const context = this.contextOf(impression);
    return { pClick: this.pClick(user, item, context, impression.position), pPurchaseGivenClick: this.pPurchaseGivenClick(user, item, context) };
  }

  /** The context of a logged impression. */
  contextOf(impression: Pick<Impression, 'device' | 'page' | 'ts'>): WorldContext {
    if (!(DEVICES as readonly string[]).includes(impression.device)) throw new Error(`unknown device "${impression.device}"`);
    if (!(PAGES as readonly string[]).includes(impression.page)) throw new Error(`unknown page "${impression.page}"`);
    return { device: impression.device as Device, page: impression.page as Page, ts: impression.ts };
  }

  // --- sampling -----------------------------------------------------------------------------

  /** A user, drawn in proportion to activity. */
  sampleUser(rng: Rng): number {
    return rng.pickCumulative(this.users.activityCumulative);
  }

  /** A context for the user: mostly their primary device; ts from the daily cycle unless given. */
  sampleContext(rng: Rng, user: number, ts?: number): WorldContext {
    const device = rng.bernoulli(TRUTH.primaryDeviceStickiness) ? this.users.primaryDevice[user]! : rng.pickCumulative(this.deviceCumulative);
    const page = rng.pickCumulative(this.pageCumulative);
    return { device: DEVICES[device]!, page: PAGES[page]!, ts: ts ?? this.cycle.randomTime(rng) };
  }

  /** A request for a simulator: user, context and the logging policy's slate (size from the settings unless given). */
  sampleRequest(rng: Rng, options: { ts?: number; slateSize?: number } = {}): SampledRequest {
    const { min, max } = this.settings.slateSize;
    const slateSize = options.slateSize ?? rng.intBetween(min, max);
    if (!Number.isInteger(slateSize) || slateSize < 1 || slateSize > this.items.count) {
      throw new RangeError(`slate size must be an integer from 1 to ${this.items.count}, got ${slateSize}`);
    }
    const userIndex = this.sampleUser(rng);
    const context = this.sampleContext(rng, userIndex, options.ts);
    return { userIndex, context, candidates: this.candidates.slate(rng, userIndex, context.page, slateSize) };
  }

  // --- ids and table rows -------------------------------------------------------------------

  userId(user: number): string {
    return this.users.ids.id(user);
  }

  itemId(item: number): string {
    return this.items.ids.id(item);
  }

  /** The index of a user id of this world, or undefined. */
  userIndex(userId: string): number | undefined {
    return this.users.ids.index(userId);
  }

  itemIndex(itemId: string): number | undefined {
    return this.items.ids.index(itemId);
  }

  private requireUserIndex(userId: string): number {
    const index = this.userIndex(userId);
    if (index === undefined) throw new Error(`unknown user id "${userId}"`);
    return index;
  }

  private requireItemIndex(itemId: string): number {
    const index = this.itemIndex(itemId);
    if (index === undefined) throw new Error(`unknown item id "${itemId}"`);
    return index;
  }

  userProfile(user: number): UserProfile {
    const users = this.users;
    return {
      user_id: this.userId(user),
      segment: SEGMENTS[users.segment[user]!]!.name,
      loyalty_tier: LOYALTY_TIERS[users.loyaltyTier[user]!]!,
      tenure_days: users.tenureDays[user]!,
    };
  }

  catalogItem(item: number): CatalogItem {
    const items = this.items;
    return {
      item_id: this.itemId(item),
      category: CATEGORIES[items.category[item]!]!.name,
      brand: this.params.brands.names[items.brand[item]!]!,
      price: items.price[item]!,
      rating: items.ratingTenths[item]! / 10,
      age_days: items.ageDays[item]!,
    };
  }

  describe(): WorldDescription {
    const categories = CATEGORIES.length;
    const items = this.items;
    const brands = this.params.brands;
    return {
      version: WORLD_VERSION,
      settings: this.settings,
      window: {
        start: new Date(this.settings.startTs).toISOString(),
        end: new Date(this.settings.startTs + this.settings.days * MS_PER_DAY).toISOString(),
      },
      groundTruth: {
        pClick: 'examination(position) * sigmoid(click logit: base + affinity + latent + popularity + quality + price + novelty + hour + device + page + loyalty)',
        pPurchaseGivenClick: 'sigmoid(purchase logit: base + segment + quality + affinity + latent + price + device + page + loyalty)',
        examination: {
          form: 'position ^ -exponent',
          exponent: TRUTH.examinationExponent,
          firstPositions: [1, 2, 3, 5, 10, 20, 30].map((p) => round4(this.examination(p))),
        },
        hidden: ['user category affinity', 'user latent taste', 'user price sensitivity and price level', 'user activity and primary device', 'item quality', 'item latent', 'item appeal/popularity', 'brand quality, price level and latent'],
        effects: TRUTH,
        segments: SEGMENTS.map((segment, s) => ({
          name: segment.name,
          share: segment.share,
          priceSensitivity: segment.priceSensitivity,
          priceLevel: segment.priceLevel,
          activity: segment.activity,
          purchase: segment.purchase,
          categoryAffinity: Object.fromEntries(CATEGORIES.map((c, k) => [c.name, round4(this.params.segmentAffinity[s * categories + k]!)])),
        })),
        categories: CATEGORIES.map((c, k) => ({
          name: c.name,
          medianPrice: c.medianPrice,
          share: round4(this.params.categoryShare[k]!),
          items: items.categoryStart[k + 1]! - items.categoryStart[k]!,
          brands: brands.firstOfCategory[k + 1]! - brands.firstOfCategory[k]!,
        })),
      },
    };
  }
}

/** The world of these settings; the same settings always give the same world. */
export function createWorld(settings: WorldSettings): World {
  return new World(settings);
}
