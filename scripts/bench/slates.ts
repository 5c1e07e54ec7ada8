// Rank requests for the bench, drawn from the demo world: for each slate size, a few different
// users and item sets (seeded, so every run sends the same bodies), every item with today's price
// inline as a storefront would send it.
import { join } from 'node:path';
import type { CatalogItem, UserProfile } from '../../model/data/impressions.ts';
import { readItems, readUsers, Rng, WORLD_FILES } from '../../model/world/index.ts';

export interface BenchBodies {
  /** JSON bodies by slate size */
  bySize: Map<number, string[]>;
  users: number;
  items: number;
}

export async function benchBodies(worldDir: string, sizes: readonly number[], variants: number): Promise<BenchBodies> {
  const users: UserProfile[] = [];
  for await (const user of readUsers(join(worldDir, WORLD_FILES.users))) users.push(user);
  const items: CatalogItem[] = [];
  for await (const item of readItems(join(worldDir, WORLD_FILES.items))) items.push(item);
  const rng = Rng.stream(2026, 'bench');
  const bySize = new Map<number, string[]>();
  for (const size of sizes) {
    if (size > items.length) throw new Error(`the world has ${items.length} items, fewer than a slate of ${size}`);
    const bodies: string[] = [];
    for (let v = 0; v < variants; v++) {
      const user = users[rng.int(users.length)]!;
      // a partial Fisher-Yates shuffle: `size` distinct items
      const pool = items.slice();
      for (let i = 0; i < size; i++) {
        const j = i + rng.int(pool.length - i);
        [pool[i], pool[j]] = [pool[j]!, pool[i]!];
      }
      bodies.push(
        JSON.stringify({
          request_id: `bench-${size}-${v}`,
          user_id: user.user_id,
          context: { device: v % 2 ? 'desktop' : 'mobile', page: 'search' },
          items: pool.slice(0, size).map((item) => ({ id: item.item_id, price: item.price })),
        }),
      );
    }
    bySize.set(size, bodies);
  }
  return { bySize, users: users.length, items: items.length };
}
