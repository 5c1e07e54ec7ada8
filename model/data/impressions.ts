// The one impression-log schema every dataset is read into (the synthetic world, Expedia, the
// worker's own exposure logs) and the catalog/user table rows the feature computation reads.

/** One shown item in one served slate. */
export interface Impression {
  request_id: string;
  /** epoch milliseconds */
  ts: number;
  user_id: string;
  device: string;
  page: string;
  item_id: string;
  /** 1-based displayed position */
  position: number;
  clicked: 0 | 1;
  purchased: 0 | 1;
  /** the price shown with the impression */
  price: number;
}

export interface UserProfile {
  user_id: string;
  segment: string;
  loyalty_tier: string;
  tenure_days: number;
}

export interface CatalogItem {
  item_id: string;
  category: string;
  brand: string;
  price: number;
  rating: number;
  age_days: number;
}
