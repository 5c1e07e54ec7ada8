// Sample users and slates for the playground, taken from the live feature set itself (KV lists of
// its user and item keys), so they exist whatever world or catalog was backfilled. Bounded: one list
// call per kind and at most SAMPLE_ITEMS item records, read through the feature store's cache.
import { itemKey, userKey } from '../../model/features/kv-layout.ts';
import type { RawRecord } from '../../model/features/records.ts';
import type { FeatureStore } from '../features/store.ts';

const LISTED_USERS = 50;
const SAMPLE_USERS = 8;
const SAMPLE_ITEMS = 300;

export interface SampleUser {
  id: string;
  segment: string | null;
  clicks: number | null;
}

export interface SampleSlate {
  name: string;
  context: { device: string; page: string };
  items: Array<{ id: string; price?: number }>;
}

export interface Samples {
  feature_set: string | null;
  users: SampleUser[];
  slates: SampleSlate[];
  /** what the page shows beside an id: the stored category and brand */
  catalog: Record<string, { category: string | null; brand: string | null }>;
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const number = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

/** The ids under a key prefix, in KV's (lexicographic) order. */
async function listIds(kv: KVNamespace, prefix: string, limit: number): Promise<string[]> {
  const page = await kv.list({ prefix, limit });
  return page.keys.map((k) => k.name.slice(prefix.length));
}

export async function playgroundSamples(kv: KVNamespace, store: FeatureStore): Promise<Samples> {
  const active = await store.activeFeatureSet();
  if (!active) return { feature_set: null, users: [], slates: [], catalog: {} };
  const version = active.version;
  const [userIds, itemIds] = await Promise.all([listIds(kv, userKey(version, ''), LISTED_USERS), listIds(kv, itemKey(version, ''), SAMPLE_ITEMS)]);
  const records = await store.getRecords([...userIds.map((id) => userKey(version, id)), ...itemIds.map((id) => itemKey(version, id))]);
  const userRecords = records.slice(0, userIds.length);
  const itemRecords = records.slice(userIds.length);

  // Users with the most history first: their re-ranking differs most from the request order.
  const users = userIds
    .map((id, i) => ({ id, segment: text(userRecords[i]?.segment), clicks: number(userRecords[i]?.clicks) }))
    .sort((a, b) => (b.clicks ?? -1) - (a.clicks ?? -1))
    .slice(0, SAMPLE_USERS);

  const items = itemIds.map((id, i) => ({ id, record: itemRecords[i] ?? null }));
  const catalog: Samples['catalog'] = {};
  for (const { id, record } of items) catalog[id] = { category: text(record?.category), brand: text(record?.brand) };
  const slateItem = ({ id, record }: { id: string; record: RawRecord | null }) => {
    const price = number(record?.price);
    return price === null ? { id } : { id, price };
  };
  const byCategory = new Map<string, typeof items>();
  for (const item of items) {
    const category = text(item.record?.category) ?? '?';
    const list = byCategory.get(category);
    if (list) list.push(item);
    else byCategory.set(category, [item]);
  }
  const categories = [...byCategory.keys()];
  const largest = [...byCategory.values()].sort((a, b) => b.length - a.length)[0] ?? [];
  const firstThree = items.filter((i) => categories.slice(0, 3).includes(text(i.record?.category) ?? '?')).slice(0, 30);

  const slates: SampleSlate[] = [];
  if (firstThree.length > 0) slates.push({ name: `search: ${firstThree.length} items of ${Math.min(3, categories.length)} categories`, context: { device: 'mobile', page: 'search' }, items: firstThree.map(slateItem) });
  if (largest.length > 0) slates.push({ name: `category page: ${Math.min(20, largest.length)} items of one category`, context: { device: 'desktop', page: 'category' }, items: largest.slice(0, 20).map(slateItem) });
  if (items.length > 0) slates.push({ name: `home: ${Math.min(50, items.length)} mixed items`, context: { device: 'desktop', page: 'home' }, items: items.slice(0, 50).map(slateItem) });
  return { feature_set: version, users, slates, catalog };
}
