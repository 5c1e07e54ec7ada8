// Backfills a feature set computed from a world directory (users.csv, items.csv, impressions.csv)
// into a KV target, with a progress bar on a terminal.
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { readImpressions, readItems, readUsers, WORLD_FILES } from '../../model/world/index.ts';
import type { KvTarget } from './kv-target.ts';
import { newVersionName, publishFeatureSet, type PublishResult } from './publish.ts';
import { accumulateStats, featurePairs, servingWindow, type FeatureSources } from './records.ts';

export interface BackfillOptions {
  version?: string;
  batchSize?: number;
  verifySample?: number;
  progress?: boolean;
}

export function worldSources(worldDir: string): FeatureSources {
  return {
    impressions: () => readImpressions(join(worldDir, WORLD_FILES.impressions)),
    users: () => readUsers(join(worldDir, WORLD_FILES.users)),
    items: () => readItems(join(worldDir, WORLD_FILES.items)),
  };
}

export async function countRows(rows: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const _ of rows) n++;
  return n;
}

export async function backfillWorld(target: KvTarget, worldDir: string, options: BackfillOptions = {}): Promise<PublishResult & { seconds: number }> {
  const sources = worldSources(worldDir);
  const stats = await accumulateStats(sources, await servingWindow(sources));
  const total = (await countRows(sources.users())) + (await countRows(sources.items()));
  const version = options.version ?? newVersionName();
  const bar = options.progress
    ? new cliProgress.SingleBar({ format: 'backfill {bar} {value}/{total} keys | {rate} keys/s | ETA {eta}s', hideCursor: true }, cliProgress.Presets.shades_classic)
    : undefined;
  const started = performance.now();
  bar?.start(total, 0, { rate: 0 });
  try {
    const result = await publishFeatureSet(target, version, featurePairs(sources, stats, version), {
      batchSize: options.batchSize ?? 500,
      verifySample: options.verifySample ?? 200,
      onProgress: (written) => bar?.update(written, { rate: Math.round(written / ((performance.now() - started) / 1000)) }),
    });
    return { ...result, seconds: (performance.now() - started) / 1000 };
  } finally {
    bar?.stop();
  }
}
