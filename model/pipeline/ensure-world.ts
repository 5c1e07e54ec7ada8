// A world's files on disk, generated once per settings: world.json is written last, so a directory
// whose world.json carries the same settings is complete and reusable.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createWorld, validateSettings, writeWorld, WORLD_FILES, type WorldSettings } from '../world/index.ts';

export function worldDir(dataDir: string, settings: WorldSettings): string {
  return join(dataDir, 'worlds', `${settings.name}-seed${settings.seed}-${settings.impressions}`);
}

export async function ensureWorldFiles(settings: WorldSettings, dataDir: string, log: (line: string) => void = console.log): Promise<string> {
  validateSettings(settings);
  const dir = worldDir(dataDir, settings);
  try {
    const existing = JSON.parse(await readFile(join(dir, WORLD_FILES.description), 'utf8')) as { settings?: WorldSettings };
    if (JSON.stringify(existing.settings) === JSON.stringify(settings)) return dir;
  } catch {
    // not generated yet, or interrupted before world.json
  }
  log(`generating world '${settings.name}' (seed ${settings.seed}: ${settings.users} users, ${settings.items} items, ${settings.impressions} impressions) into ${dir}`);
  await writeWorld(createWorld(settings), dir);
  return dir;
}
