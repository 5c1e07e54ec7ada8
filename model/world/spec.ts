// The world's fixed specification: vocabularies, their shares, and the ground truth's effect sizes.
// Seeded quantities (per-segment affinities, brands, every user and item) are drawn from these in
// params.ts, users.ts and catalog.ts. The sizes were calibrated so that the log lands on
// CTR ~5%, CVR given click ~10% and an oracle CTR AUC ~0.78 (see the world tests).

/** Bumped whenever a change to the generator changes what a given seed produces. */
export const WORLD_VERSION = 'world-v3';

export interface CategorySpec {
  name: string;
  /** median listed price, USD */
  medianPrice: number;
}

export const CATEGORIES: readonly CategorySpec[] = [
  { name: 'electronics', medianPrice: 180 },
  { name: 'computers', medianPrice: 450 },
  { name: 'phones', medianPrice: 350 },
  { name: 'home', medianPrice: 45 },
  { name: 'kitchen', medianPrice: 35 },
  { name: 'furniture', medianPrice: 220 },
  { name: 'fashion', medianPrice: 40 },
  { name: 'shoes', medianPrice: 70 },
  { name: 'beauty', medianPrice: 22 },
  { name: 'health', medianPrice: 18 },
  { name: 'sports', medianPrice: 55 },
  { name: 'outdoor', medianPrice: 80 },
  { name: 'toys', medianPrice: 25 },
  { name: 'baby', medianPrice: 30 },
  { name: 'books', medianPrice: 14 },
  { name: 'grocery', medianPrice: 9 },
  { name: 'pets', medianPrice: 24 },
  { name: 'garden', medianPrice: 40 },
  { name: 'automotive', medianPrice: 45 },
  { name: 'jewelry', medianPrice: 120 },
];

export interface SegmentSpec {
  name: string;
  share: number;
  /** mean of the hidden price sensitivity; individuals scatter around it */
  priceSensitivity: number;
  /** log of the segment's usual price relative to a category's median */
  priceLevel: number;
  /** multiplies the individual activity (how often the user shows up) */
  activity: number;
  /** additive logit for purchase given click */
  purchase: number;
  /** categories the segment leans towards (added to the seeded per-segment affinities) */
  favourites: Readonly<Record<string, number>>;
}

export const SEGMENTS: readonly SegmentSpec[] = [
  { name: 'deal_seeker', share: 0.25, priceSensitivity: 1.6, priceLevel: -0.35, activity: 1.3, purchase: -0.1, favourites: { grocery: 0.6, fashion: 0.4, home: 0.3 } },
  { name: 'casual', share: 0.3, priceSensitivity: 1.0, priceLevel: 0, activity: 0.7, purchase: -0.25, favourites: { books: 0.3, fashion: 0.3, electronics: 0.2 } },
  { name: 'family', share: 0.2, priceSensitivity: 1.2, priceLevel: -0.1, activity: 1.0, purchase: 0.1, favourites: { toys: 0.8, baby: 0.8, grocery: 0.5, kitchen: 0.3 } },
  { name: 'premium', share: 0.12, priceSensitivity: 0.4, priceLevel: 0.45, activity: 1.1, purchase: 0.25, favourites: { jewelry: 0.7, electronics: 0.5, computers: 0.5, furniture: 0.3 } },
  { name: 'gifter', share: 0.13, priceSensitivity: 0.7, priceLevel: 0.2, activity: 0.8, purchase: 0.15, favourites: { jewelry: 0.6, toys: 0.5, beauty: 0.5, books: 0.4 } },
];

export const LOYALTY_TIERS = ['none', 'silver', 'gold'] as const;
export type LoyaltyTier = (typeof LOYALTY_TIERS)[number];

export const DEVICES = ['mobile', 'desktop', 'tablet'] as const;
export type Device = (typeof DEVICES)[number];

export const PAGES = ['home', 'search', 'category', 'pdp'] as const;
export type Page = (typeof PAGES)[number];

/** Everything that is not seeded: shares and effect sizes of the ground truth. */
export const TRUTH = {
  /** examination(p) = p^-exponent: the chance that a user looks at position p (1 at the top) */
  examinationExponent: 0.55,
  deviceShare: { mobile: 0.62, desktop: 0.3, tablet: 0.08 } as Record<Device, number>,
  /** a user's requests come from their primary device this often, otherwise from any device */
  primaryDeviceStickiness: 0.8,
  pageShare: { home: 0.3, search: 0.3, category: 0.25, pdp: 0.15 } as Record<Page, number>,
  /** daily cycle of traffic: intensity 1 + amplitude * cos(2 pi (hour - peakHour) / 24), UTC */
  traffic: { amplitude: 0.6, peakHourUtc: 20 },

  click: {
    base: -2.9,
    /** times the user's hidden affinity to the item's category */
    affinity: 0.6,
    /** times dot(user latent, item latent) / sqrt(dim) */
    latent: 0.45,
    /** times the item's hidden appeal (the normal score of its popularity rank) */
    popularity: 0.35,
    quality: 0.3,
    /** times sensitivity x (log price relative to the category median - the user's price level);
     * cheaper-than-usual items gain only half as much as dearer ones lose */
    price: 0.6,
    cheaperGain: 0.5,
    /** new items get a boost that fades with age: novelty * exp(-age / noveltyDays) */
    novelty: 0.3,
    noveltyDays: 30,
    /** evening browsing is more engaged: hour * cos(2 pi (hour - hourPeak) / 24) */
    hour: 0.15,
    hourPeak: 21,
    device: { mobile: 0, desktop: 0.1, tablet: 0.05 } as Record<Device, number>,
    page: { home: -0.25, search: 0.35, category: 0.1, pdp: -0.1 } as Record<Page, number>,
    loyalty: { none: 0, silver: 0.05, gold: 0.1 } as Record<LoyaltyTier, number>,
  },

  purchase: {
    base: -3.0,
    quality: 0.5,
    affinity: 0.2,
    latent: 0.225,
    price: 0.8,
    cheaperGain: 0.5,
    device: { mobile: -0.15, desktop: 0.2, tablet: 0 } as Record<Device, number>,
    page: { home: -0.1, search: 0.3, category: 0, pdp: 0.15 } as Record<Page, number>,
    loyalty: { none: 0, silver: 0.2, gold: 0.4 } as Record<LoyaltyTier, number>,
  },

  users: {
    /** individual scatter of price sensitivity around the segment mean (floored at sensitivityFloor) */
    priceSensitivitySd: 0.3,
    sensitivityFloor: 0.05,
    priceLevelSd: 0.3,
    /** seeded per-segment affinities ~ N(0, segmentAffinitySd) plus the segment's favourites */
    segmentAffinitySd: 0.3,
    /** individual affinities ~ N(0, individualAffinitySd) on top of the segment's */
    individualAffinitySd: 0.4,
    /**
     * share of the latent taste's variance a user shares with their segment: latent =
     * sqrt(share) * segment latent + sqrt(1 - share) * N(0, 1), so the segment partly reveals it
     */
    segmentLatentShare: 0.8,
    /** activity = segment.activity * exp(N(0, activitySd)) */
    activitySd: 0.9,
    tenureMedianDays: 300,
    tenureLogSd: 1.0,
    maxTenureDays: 3650,
    /** loyalty score = activity weight * log(activity) + tenure weight * log1p(tenure / 365) + N(0,1) */
    loyaltyActivityWeight: 0.8,
    loyaltyTenureWeight: 0.5,
    /** score thresholds for silver and gold (about 28% and 12% of users) */
    loyaltyThresholds: [0.62, 1.5] as [number, number],
  },

  items: {
    /** category sizes: share proportional to exp(N(0, categorySizeSd)) */
    categorySizeSd: 0.5,
    /** within a category, brand b (0-based by size) is picked with weight (b + 1)^-brandZipf */
    brandZipf: 0.9,
    brandQualitySd: 0.6,
    brandPriceLevelSd: 0.3,
    brandLatentSd: 0.9,
    /** quality = brand quality + popularityQuality * appeal + N(0, qualityNoiseSd) */
    popularityQuality: 0.3,
    qualityNoiseSd: 0.7,
    /** latent = brand latent + N(0, latentNoiseSd) */
    latentNoiseSd: 0.4,
    /** exposure weight of the item at popularity rank r (0-based): (r + 1)^-popularityZipf */
    popularityZipf: 1.0,
    /** log price = log(category median) + brand level + qualityPrice * quality + N(0, priceSd) */
    qualityPrice: 0.15,
    priceSd: 0.55,
    minPrice: 0.99,
    /** rating = ratingMean + ratingQuality * quality + N(0, ratingNoiseSd), clamped to 1..5, one decimal */
    ratingMean: 3.9,
    ratingQuality: 0.45,
    ratingNoiseSd: 0.45,
    ageMeanDays: 400,
    maxAgeDays: 3650,
  },

  candidates: {
    /** how sharply users' browsing follows their category affinity: softmax(affinity / temperature) */
    browseTemperature: 0.7,
    /** share of candidates drawn by popularity (the rest uniformly, i.e. the long tail), by page */
    popularShare: { home: 0.7, search: 0.6, category: 0.7, pdp: 0.6 } as Record<Page, number>,
    /** on search pages this share of candidates comes from one more, random category */
    searchOffTopicShare: 0.15,
    /** on product pages this share of candidates is of the anchor item's brand */
    pdpSameBrandShare: 0.3,
    /** logging policy: order by appeal + N(0, loggingNoiseSd) (popularity with noise) */
    loggingNoiseSd: 1.0,
  },
} as const;
