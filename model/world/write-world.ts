// Writes a world to a directory: users.csv, items.csv, impressions.csv (time order), then
// world.json (settings, ground truth, log statistics). world.json is written last and removed
// first, so its presence means the directory holds a complete world.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CatalogItem, Impression, UserProfile } from '../data/impressions.ts';
import { CsvWriter } from './csv-writer.ts';
import { generateLoggedSlates, slateImpressions } from './impression-log.ts';
import { LogStats, type LogSummary } from './log-stats.ts';
import { Rng } from './rng.ts';
import { IMPRESSION_SCHEMA, ITEM_SCHEMA, USER_SCHEMA, schemaColumns } from './table-schemas.ts';
import type { World, WorldDescription } from './world.ts';

export const WORLD_FILES = {
  description: 'world.json',
  users: 'users.csv',
  items: 'items.csv',
  impressions: 'impressions.csv',
} as const;

export type WritePhase = 'users' | 'items' | 'impressions';

export interface WriteProgress {
  phase: WritePhase;
  /** rows written in this phase */
  done: number;
  total: number;
}

export interface WriteWorldOptions {
  /** rows of the impression log (default: the settings') */
  impressions?: number;
  /** called every few thousand rows and at the end of each phase */
  onProgress?: (progress: WriteProgress) => void;
}

/** What world.json holds. */
export interface WorldFile extends WorldDescription {
  stats: { users: number; items: number } & LogSummary;
}

const PROGRESS_EVERY = 16_384;

/** The stream the files' impression log is drawn from: a given seed always logs the same rows. */
export function impressionRng(world: World): Rng {
  return Rng.stream(world.settings.seed, 'impressions');
}

async function writeRows<T extends object>(
  path: string,
  columns: readonly (keyof T & string)[],
  count: number,
  row: (index: number) => T,
  progress: (done: number) => void,
): Promise<void> {
  const writer = new CsvWriter<T>(path, columns);
  for (let index = 0; index < count; index++) {
    writer.write(row(index));
    if (writer.full) await writer.flush();
    if ((index + 1) % PROGRESS_EVERY === 0) progress(index + 1);
  }
  await writer.close();
  progress(count);
}

export async function writeWorld(world: World, dir: string, options: WriteWorldOptions = {}): Promise<WorldFile> {
  const impressions = options.impressions ?? world.settings.impressions;
  const report = (phase: WritePhase, total: number) => (done: number) => options.onProgress?.({ phase, done, total });
  await mkdir(dir, { recursive: true });
  await rm(join(dir, WORLD_FILES.description), { force: true });

  const { users, items } = world.settings;
  await writeRows<UserProfile>(join(dir, WORLD_FILES.users), schemaColumns(USER_SCHEMA), users, (u) => world.userProfile(u), report('users', users));
  await writeRows<CatalogItem>(join(dir, WORLD_FILES.items), schemaColumns(ITEM_SCHEMA), items, (i) => world.catalogItem(i), report('items', items));

  const stats = new LogStats(impressions);
  const log = new CsvWriter<Impression>(join(dir, WORLD_FILES.impressions), schemaColumns(IMPRESSION_SCHEMA));
  const progress = report('impressions', impressions);
  let lastReported = 0;
  for (const slate of generateLoggedSlates(world, impressions, impressionRng(world))) {
    stats.add(slate);
    for (const row of slateImpressions(world, slate)) log.write(row);
    if (log.full) await log.flush();
    if (stats.impressions - lastReported >= PROGRESS_EVERY) {
      lastReported = stats.impressions;
      progress(lastReported);
    }
  }
  await log.close();
  progress(stats.impressions);

  const file: WorldFile = { ...world.describe(), stats: { users, items, ...stats.summary() } };
  await writeFile(join(dir, WORLD_FILES.description), JSON.stringify(file, null, 2) + '\n');
  return file;
}
