// Candidate generation and the logging policy that produced the impression log. Candidates come
// mostly from the one to three categories the user is browsing (which follow their affinities, as
// a real recall stage follows history), mixing popular items with the long tail; the logging policy
// orders them by popularity plus noise, so position and popularity are confounded as in real logs.
import type { ItemTable } from './catalog.ts';
import type { BrandTable } from './params.ts';
import type { Rng } from './rng.ts';
import { CATEGORIES, TRUTH, type Page } from './spec.ts';
import type { UserTable } from './users.ts';

/** Draws from the intended source before falling back to the whole catalog. */
const ATTEMPTS_PER_SOURCE = 12;

export class CandidateGenerator {
  /** item indices grouped by brand: brand b is byBrand[brandStart[b] .. brandStart[b + 1]) */
  private readonly byBrand: Uint32Array;
  private readonly brandStart: Uint32Array;
  /** stamp[i] === currentStamp marks item i as already in the slate being built */
  private readonly stamp: Uint32Array;
  private currentStamp = 0;
  private readonly browseCumulative = new Float64Array(CATEGORIES.length);

  constructor(
    private readonly users: UserTable,
    private readonly items: ItemTable,
    brands: BrandTable,
  ) {
    this.stamp = new Uint32Array(items.count);
    this.brandStart = new Uint32Array(brands.count + 1);
    for (let i = 0; i < items.count; i++) this.brandStart[items.brand[i]! + 1]! += 1;
    for (let b = 0; b < brands.count; b++) this.brandStart[b + 1]! += this.brandStart[b]!;
    const next = this.brandStart.slice(0, brands.count);
    this.byBrand = new Uint32Array(items.count);
    for (let i = 0; i < items.count; i++) this.byBrand[next[items.brand[i]!]!++] = i;
  }

  /** `size` distinct items for a request (size <= catalog size), in the logging policy's order. */
  slate(rng: Rng, user: number, page: Page, size: number): Uint32Array {
    const picked = this.candidates(rng, user, page, size);
    return this.loggingOrder(rng, picked);
  }

  private candidates(rng: Rng, user: number, page: Page, size: number): Uint32Array {
    this.currentStamp = (this.currentStamp + 1) >>> 0 || 1;
    const picked = new Uint32Array(size);
    const popularShare = TRUTH.candidates.popularShare[page];
    const main = this.browsedCategory(rng, user);
    const categories = [main];
    let anchorBrand = -1;
    if (page === 'home') {
      const extra = rng.int(3); // one to three categories in all
      for (let k = 0; k < extra; k++) categories.push(this.browsedCategory(rng, user));
    } else if (page === 'search') {
      categories.push(this.randomCategory(rng));
    } else if (page === 'pdp') {
      // The product being viewed: recommended alongside are its category and its brand.
      const anchor = this.fromCategory(rng, main, true);
      if (size < this.items.count) this.stamp[anchor] = this.currentStamp; // not shown beside itself
      anchorBrand = this.items.brand[anchor]!;
    }

    for (let slot = 0; slot < size; slot++) {
      let item = -1;
      for (let attempt = 0; attempt < ATTEMPTS_PER_SOURCE && item < 0; attempt++) {
        let candidate: number;
        if (page === 'pdp' && rng.bernoulli(TRUTH.candidates.pdpSameBrandShare)) {
          candidate = this.fromBrand(rng, anchorBrand);
        } else {
          let category = categories[0]!;
          if (page === 'home') category = categories[rng.int(categories.length)]!;
          else if (page === 'search' && rng.bernoulli(TRUTH.candidates.searchOffTopicShare)) category = categories[1]!;
          candidate = this.fromCategory(rng, category, rng.bernoulli(popularShare));
        }
        if (this.stamp[candidate] !== this.currentStamp) item = candidate;
      }
      if (item < 0) item = this.anyUnused(rng);
      this.stamp[item] = this.currentStamp;
      picked[slot] = item;
    }
    return picked;
  }

  /** A category the user browses: softmax of their affinities over the non-empty categories. */
  private browsedCategory(rng: Rng, user: number): number {
    const categories = CATEGORIES.length;
    const temperature = TRUTH.candidates.browseTemperature;
    let total = 0;
    for (let c = 0; c < categories; c++) {
      const nonEmpty = this.items.categoryStart[c + 1]! > this.items.categoryStart[c]!;
      total += nonEmpty ? Math.exp(this.users.affinity[user * categories + c]! / temperature) : 0;
      this.browseCumulative[c] = total;
    }
    return rng.pickCumulative(this.browseCumulative);
  }

  private randomCategory(rng: Rng): number {
    for (;;) {
      const c = rng.int(CATEGORIES.length);
      if (this.items.categoryStart[c + 1]! > this.items.categoryStart[c]!) return c;
    }
  }

  /** An item of a (non-empty) category: by popularity, or uniformly (the long tail). */
  private fromCategory(rng: Rng, category: number, byPopularity: boolean): number {
    const from = this.items.categoryStart[category]!;
    const to = this.items.categoryStart[category + 1]!;
    const k = byPopularity ? rng.pickCumulative(this.items.popularityCumulative, from, to) : from + rng.int(to - from);
    return this.items.byCategory[k]!;
  }

  private fromBrand(rng: Rng, brand: number): number {
    const from = this.brandStart[brand]!;
    return this.byBrand[from + rng.int(this.brandStart[brand + 1]! - from)]!;
  }

  /** Any item not yet in the slate: uniform draws, then a scan (the slate never exceeds the catalog). */
  private anyUnused(rng: Rng): number {
    const count = this.items.count;
    for (let attempt = 0; attempt < ATTEMPTS_PER_SOURCE; attempt++) {
      const candidate = rng.int(count);
      if (this.stamp[candidate] !== this.currentStamp) return candidate;
    }
    const start = rng.int(count);
    for (let k = 0; k < count; k++) {
      const candidate = (start + k) % count;
      if (this.stamp[candidate] !== this.currentStamp) return candidate;
    }
    throw new Error('slate larger than the catalog');
  }

  /** The logging policy: most popular first, with noise. */
  private loggingOrder(rng: Rng, picked: Uint32Array): Uint32Array {
    const score = new Float64Array(picked.length);
    for (let k = 0; k < picked.length; k++) score[k] = this.items.appeal[picked[k]!]! + TRUTH.candidates.loggingNoiseSd * rng.normal();
    const order = Array.from(picked.keys()).sort((a, b) => score[b]! - score[a]! || a - b);
    return Uint32Array.from(order, (k) => picked[k]!);
  }
}
