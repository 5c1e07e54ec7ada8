// The item catalog, columnar. Popularity follows a Zipf law over a random ranking of the items;
// the same rank, as a normal score ("appeal"), is the item's hidden pull in the ground truth, so
// exposure (what the logging policy shows) and attractiveness are confounded as in real logs.
import { IdFormat } from './ids.ts';
import { probit } from './math.ts';
import type { WorldParams } from './params.ts';
import { Rng, cumulativeSums } from './rng.ts';
import { CATEGORIES, TRUTH } from './spec.ts';
import type { WorldSettings } from './settings.ts';

export interface ItemTable {
  count: number;
  ids: IdFormat;
  /** observable: index into CATEGORIES */
  category: Uint8Array;
  /** observable: index into the world's brands */
  brand: Uint16Array;
  /** observable: listed price, whole cents */
  price: Float64Array;
  /** observable: rating x 10 (10..50), a noisy view of quality */
  ratingTenths: Uint8Array;
  ageDays: Uint16Array;
  // Hidden ground truth below: never written to the tables.
  quality: Float32Array;
  /** normal score of the popularity rank: the item's pull beyond quality */
  appeal: Float32Array;
  /** Zipf exposure weight of the popularity rank */
  popularity: Float64Array;
  /** count x latentDim */
  latent: Float32Array;
  /** log(price / category median price) */
  relativeLogPrice: Float32Array;
  // Indexes for the candidate generator.
  /** item indices grouped by category: category c is byCategory[categoryStart[c] .. categoryStart[c + 1]) */
  byCategory: Uint32Array;
  categoryStart: Uint32Array;
  /** running sums of popularity along byCategory, restarting at each category */
  popularityCumulative: Float64Array;
}

export function generateCatalog(settings: WorldSettings, params: WorldParams): ItemTable {
  const rng = Rng.stream(settings.seed, 'items');
  const count = settings.items;
  const dim = settings.latentDim;
  const spec = TRUTH.items;
  const brands = params.brands;
  const categoryCumulative = cumulativeSums(params.categoryShare);

  const items: ItemTable = {
    count,
    ids: new IdFormat('i', count),
    category: new Uint8Array(count),
    brand: new Uint16Array(count),
    price: new Float64Array(count),
    ratingTenths: new Uint8Array(count),
    ageDays: new Uint16Array(count),
    quality: new Float32Array(count),
    appeal: new Float32Array(count),
    popularity: new Float64Array(count),
    latent: new Float32Array(count * dim),
    relativeLogPrice: new Float32Array(count),
    byCategory: new Uint32Array(count),
    categoryStart: new Uint32Array(CATEGORIES.length + 1),
    popularityCumulative: new Float64Array(count),
  };

  // A random popularity ranking (Fisher-Yates), so the id order says nothing about popularity.
  const rank = new Uint32Array(count);
  for (let i = 0; i < count; i++) rank[i] = i;
  for (let i = count - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const swap = rank[i]!;
    rank[i] = rank[j]!;
    rank[j] = swap;
  }

  for (let i = 0; i < count; i++) {
    const c = rng.pickCumulative(categoryCumulative);
    items.category[i] = c;
    const b = rng.pickCumulative(brands.pickCumulative, brands.firstOfCategory[c]!, brands.firstOfCategory[c + 1]!);
    items.brand[i] = b;
    const appeal = -probit((rank[i]! + 0.5) / count);
    items.appeal[i] = appeal;
    items.popularity[i] = (rank[i]! + 1) ** -spec.popularityZipf;
    const quality = brands.quality[b]! + spec.popularityQuality * appeal + spec.qualityNoiseSd * rng.normal();
    items.quality[i] = quality;
    const median = CATEGORIES[c]!.medianPrice;
    const logPrice = Math.log(median) + brands.priceLevel[b]! + spec.qualityPrice * quality + spec.priceSd * rng.normal();
    const price = Math.max(spec.minPrice, Math.round(Math.exp(logPrice) * 100) / 100);
    items.price[i] = price;
    items.relativeLogPrice[i] = Math.log(price / median);
    const rating = spec.ratingMean + spec.ratingQuality * quality + spec.ratingNoiseSd * rng.normal();
    items.ratingTenths[i] = Math.min(50, Math.max(10, Math.round(rating * 10)));
    items.ageDays[i] = Math.min(spec.maxAgeDays, Math.floor(rng.exponential(spec.ageMeanDays)));
    for (let d = 0; d < dim; d++) items.latent[i * dim + d] = brands.latent[b * dim + d]! + spec.latentNoiseSd * rng.normal();
  }

  indexByCategory(items);
  return items;
}

/** Counting sort of the items by category, with per-category running sums of popularity. */
function indexByCategory(items: ItemTable): void {
  const categories = CATEGORIES.length;
  const next = new Uint32Array(categories + 1);
  for (let i = 0; i < items.count; i++) next[items.category[i]! + 1]! += 1;
  for (let c = 0; c < categories; c++) next[c + 1]! += next[c]!;
  items.categoryStart.set(next);
  for (let i = 0; i < items.count; i++) items.byCategory[next[items.category[i]!]!++] = i;
  for (let c = 0; c < categories; c++) {
    let total = 0;
    for (let k = items.categoryStart[c]!; k < items.categoryStart[c + 1]!; k++) {
      total += items.popularity[items.byCategory[k]!]!;
      items.popularityCumulative[k] = total;
    }
  }
}
