// World-level quantities drawn from the seed: how the segments lean over categories, how big each
// category is, and the brands (which belong to one category each and carry part of their items'
// quality, price level and latent taste, so the observable brand partly reveals hidden effects).
import { Rng, cumulativeSums } from './rng.ts';
import { CATEGORIES, SEGMENTS, TRUTH } from './spec.ts';
import type { WorldSettings } from './settings.ts';

export interface BrandTable {
  count: number;
  names: string[];
  category: Uint8Array;
  /** hidden: added to each of the brand's items' quality */
  quality: Float32Array;
  /** hidden: log price offset of the brand's items */
  priceLevel: Float32Array;
  /** hidden: centre of the brand's items' latent vectors, count x latentDim */
  latent: Float32Array;
  /** brands of category c are firstOfCategory[c] .. firstOfCategory[c + 1] - 1 (biggest first) */
  firstOfCategory: Uint32Array;
  /** running sums of the within-category pick weights, restarting at each category */
  pickCumulative: Float64Array;
}

export interface WorldParams {
  /** segments x categories: the segment's part of every member's category affinity */
  segmentAffinity: Float64Array;
  /** segments x latentDim: the latent taste a segment's members share (see segmentLatentShare) */
  segmentLatent: Float64Array;
  /** each category's share of the catalog (sums to 1) */
  categoryShare: Float64Array;
  brands: BrandTable;
}

export function drawWorldParams(settings: WorldSettings): WorldParams {
  const rng = Rng.stream(settings.seed, 'params');
  const categories = CATEGORIES.length;

  for (const segment of SEGMENTS) {
    for (const name of Object.keys(segment.favourites)) {
      if (!CATEGORIES.some((c) => c.name === name)) throw new Error(`segment ${segment.name} favours unknown category "${name}"`);
    }
  }
  const segmentAffinity = new Float64Array(SEGMENTS.length * categories);
  SEGMENTS.forEach((segment, s) => {
    CATEGORIES.forEach((category, c) => {
      segmentAffinity[s * categories + c] = TRUTH.users.segmentAffinitySd * rng.normal() + (segment.favourites[category.name] ?? 0);
    });
  });

  const categoryShare = new Float64Array(categories);
  let shareTotal = 0;
  for (let c = 0; c < categories; c++) {
    categoryShare[c] = Math.exp(TRUTH.items.categorySizeSd * rng.normal());
    shareTotal += categoryShare[c]!;
  }
  for (let c = 0; c < categories; c++) categoryShare[c]! /= shareTotal;

  // Its own stream, so adding it left every other parameter of a seed unchanged.
  const latentRng = Rng.stream(settings.seed, 'segment-latent');
  const segmentLatent = new Float64Array(SEGMENTS.length * settings.latentDim);
  for (let i = 0; i < segmentLatent.length; i++) segmentLatent[i] = latentRng.normal();

  return { segmentAffinity, segmentLatent, categoryShare, brands: drawBrands(settings, categoryShare, rng) };
}

/** Splits `total` into integer parts proportional to shares, each at least 1 (largest remainder). */
function apportion(total: number, shares: Float64Array): Uint32Array {
  const parts = new Uint32Array(shares.length).fill(1);
  const spare = total - shares.length;
  const remainders: { index: number; remainder: number }[] = [];
  let given = 0;
  shares.forEach((share, i) => {
    const exact = share * spare;
    parts[i]! += Math.floor(exact);
    given += Math.floor(exact);
    remainders.push({ index: i, remainder: exact - Math.floor(exact) });
  });
  remainders.sort((a, b) => b.remainder - a.remainder || a.index - b.index);
  for (let k = 0; k < spare - given; k++) parts[remainders[k]!.index]! += 1;
  return parts;
}

function drawBrands(settings: WorldSettings, categoryShare: Float64Array, rng: Rng): BrandTable {
  const count = settings.brands;
  const dim = settings.latentDim;
  const perCategory = apportion(count, categoryShare);
  const names: string[] = [];
  const category = new Uint8Array(count);
  const quality = new Float32Array(count);
  const priceLevel = new Float32Array(count);
  const latent = new Float32Array(count * dim);
  const firstOfCategory = new Uint32Array(CATEGORIES.length + 1);
  const pickWeights = new Float64Array(count);
  let b = 0;
  CATEGORIES.forEach((spec, c) => {
    firstOfCategory[c] = b;
    for (let k = 0; k < perCategory[c]!; k++, b++) {
      names.push(`${spec.name}-${String(k + 1).padStart(2, '0')}`);
      category[b] = c;
      quality[b] = TRUTH.items.brandQualitySd * rng.normal();
      priceLevel[b] = TRUTH.items.brandPriceLevelSd * rng.normal();
      for (let d = 0; d < dim; d++) latent[b * dim + d] = TRUTH.items.brandLatentSd * rng.normal();
      pickWeights[b] = (k + 1) ** -TRUTH.items.brandZipf;
    }
  });
  firstOfCategory[CATEGORIES.length] = b;

  // Running sums that restart per category, so a category's brands can be picked from its slice.
  const pickCumulative = new Float64Array(count);
  for (let c = 0; c < CATEGORIES.length; c++) {
    const slice = cumulativeSums(pickWeights.subarray(firstOfCategory[c]!, firstOfCategory[c + 1]!));
    pickCumulative.set(slice, firstOfCategory[c]!);
  }
  return { count, names, category, quality, priceLevel, latent, firstOfCategory, pickCumulative };
}
