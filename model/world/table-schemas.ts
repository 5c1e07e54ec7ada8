// The columns of the three files, exactly the fields of the shared row interfaces, in their order.
// `satisfies` makes the compiler reject a schema that misses or invents a field.
import type { CatalogItem, Impression, UserProfile } from '../data/impressions.ts';

/** string: as is; integer / number: a finite number; flag: 0 or 1 */
export type FieldKind = 'string' | 'integer' | 'number' | 'flag';
export type TableSchema<T> = { readonly [K in keyof T]: FieldKind };

export const IMPRESSION_SCHEMA = {
  request_id: 'string',
  ts: 'integer',
  user_id: 'string',
  device: 'string',
  page: 'string',
  item_id: 'string',
  position: 'integer',
  clicked: 'flag',
  purchased: 'flag',
  price: 'number',
} as const satisfies TableSchema<Impression>;

export const USER_SCHEMA = {
  user_id: 'string',
  segment: 'string',
  loyalty_tier: 'string',
  tenure_days: 'integer',
} as const satisfies TableSchema<UserProfile>;

export const ITEM_SCHEMA = {
  item_id: 'string',
  category: 'string',
  brand: 'string',
  price: 'number',
  rating: 'number',
  age_days: 'integer',
} as const satisfies TableSchema<CatalogItem>;

export function schemaColumns<T>(schema: TableSchema<T>): (keyof T & string)[] {
  return Object.keys(schema) as (keyof T & string)[];
}
