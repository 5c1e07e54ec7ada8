// Loads a world's files into memory for training: the impression log (sorted by time, as written)
// and the user and item tables keyed by id.
import { join } from 'node:path';
import type { CatalogItem, Impression, UserProfile } from '../data/impressions.ts';
import type { Tables } from '../dataset/point-in-time.ts';
import { readImpressions, readItems, readUsers, WORLD_FILES } from '../world/index.ts';

export interface LoadedWorldLog extends Tables {
  log: Impression[];
}

export async function loadWorldLog(dir: string): Promise<LoadedWorldLog> {
  const users = new Map<string, UserProfile>();
  for await (const u of readUsers(join(dir, WORLD_FILES.users))) users.set(u.user_id, u);
  const items = new Map<string, CatalogItem>();
  for await (const i of readItems(join(dir, WORLD_FILES.items))) items.set(i.item_id, i);
  const log: Impression[] = [];
  let previous = Number.NEGATIVE_INFINITY;
  for await (const imp of readImpressions(join(dir, WORLD_FILES.impressions))) {
    if (imp.ts < previous) throw new Error(`${dir}: impressions.csv is not sorted by ts (row ${log.length + 2})`);
    previous = imp.ts;
    log.push(imp);
  }
  return { users, items, log };
}
