// A realistic rank request over the demo world: a user who has history, a search context, and a
// slate of items from a few categories with today's prices sent inline, in catalog order.
import { join } from 'node:path';
import type { CatalogItem, UserProfile } from '../../model/data/impressions.ts';
import { readItems, readUsers, WORLD_FILES } from '../../model/world/index.ts';

export interface DemoRequest {
  request_id: string;
  user_id: string;
  context: { device: string; page: string };
  items: Array<{ id: string; price: number }>;
}

export async function demoRequest(worldDir: string, size: number): Promise<DemoRequest> {
  const users: UserProfile[] = [];
  for await (const user of readUsers(join(worldDir, WORLD_FILES.users))) {
    users.push(user);
    if (users.length >= 50) break;
  }
  const items: CatalogItem[] = [];
  for await (const item of readItems(join(worldDir, WORLD_FILES.items))) items.push(item);
  // Three categories of the catalog, as a search results page would mix them.
  const categories = [...new Set(items.map((i) => i.category))].slice(0, 3);
  const slate = items.filter((i) => categories.includes(i.category)).slice(0, size);
  const user = users[users.length >> 1]!;
  return {
    request_id: 'demo-1',
    user_id: user.user_id,
    context: { device: 'mobile', page: 'search' },
    items: slate.map((i) => ({ id: i.item_id, price: i.price })),
  };
}
