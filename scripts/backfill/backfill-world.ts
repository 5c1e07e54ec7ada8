// The backfill as a function: input tables -> statistics -> records -> a KV target, with an optional
// checkpoint and a progress bar on a terminal. `backfillWorld` is the shortcut for a world directory
// (users.csv, items.csv, impressions.csv), which `npm start` uses to fill the local KV.
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { ACTIVE_KEY, itemKey, parseActiveFeatureSet, userKey } from '../../model/features/kv-layout.ts';
import { FEATURE_SET_SCHEMA } from '../../model/features/records.ts';
import { WORLD_FILES } from '../../model/world/index.ts';
import type { FeatureStatsAccumulator } from '../../model/features/compute.ts';
import { Checkpoint, describeInput, type CheckpointIdentity, type InputFile } from './checkpoint.ts';
import type { KvTarget } from './kv-target.ts';
import { newVersionName, publishFeatureSet, type PairChunk, type PublishResult } from './publish.ts';
import { accumulateStats, type FeatureSources } from './records.ts';
import { IMPRESSIONS_TABLE, ITEMS_TABLE, openTable, USERS_TABLE, type Table, type TableFormat } from './tables.ts';
import type { CatalogItem, Impression, UserProfile } from '../../model/data/impressions.ts';

export interface InputPaths {
  users: string;
  items: string;
  impressions: string;
  /** overrides the extension of every file */
  format?: TableFormat;
}

export interface BackfillOptions {
  version?: string;
  /** pairs per request */
  batchSize?: number;
  maxRequestBytes?: number;
  concurrency?: number;
  verifySample?: number;
  dryRun?: boolean;
  progress?: boolean;
  /** checkpoint file; none when unset */
  checkpointPath?: string;
  /** resume from a matching checkpoint (default true) */
  resume?: boolean;
  /** names the target in the checkpoint identity, e.g. remote:<account>/<namespace> */
  targetId?: string;
  log?: (line: string) => void;
}

export interface BackfillResult extends PublishResult {
  seconds: number;
  /** seconds spent on the log statistics before the first pair */
  statsSeconds: number;
  users: number;
  items: number;
  checkpoint?: string;
  resumedFrom?: string;
}

export function worldInputs(worldDir: string): InputPaths {
  return { users: join(worldDir, WORLD_FILES.users), items: join(worldDir, WORLD_FILES.items), impressions: join(worldDir, WORLD_FILES.impressions) };
}

export interface OpenedInputs {
  users: Table<UserProfile>;
  items: Table<CatalogItem>;
  impressions: Table<Impression>;
  sources: FeatureSources;
}

export async function openInputs(paths: InputPaths): Promise<OpenedInputs> {
  const [users, items, impressions] = await Promise.all([
    openTable(paths.users, USERS_TABLE, paths.format),
    openTable(paths.items, ITEMS_TABLE, paths.format),
    openTable(paths.impressions, IMPRESSIONS_TABLE, paths.format),
  ]);
  return {
    users,
    items,
    impressions,
    sources: {
      users: () => users.batches(),
      items: () => items.batches(),
      impressions: () => impressions.batches(),
      impressionCurveColumns: () => impressions.batches(['ts', 'position', 'clicked']),
      impressionStatsColumns: () => impressions.batches(['ts', 'user_id', 'item_id', 'position', 'clicked', 'purchased', 'price']),
      itemAttributes: () => items.batches(['item_id', 'category', 'brand', 'price']),
      userSegments: () => users.batches(['user_id', 'segment']),
    },
  };
}

/** The feature set's pairs: items first, then users, in table order; values computed on demand. */
export async function* featureChunks(sources: FeatureSources, stats: FeatureStatsAccumulator, version: string): AsyncGenerator<PairChunk> {
  for await (const rows of sources.items()) {
    yield { kind: 'item', keys: rows.map((item) => itemKey(version, item.item_id)), value: (k) => stats.itemRecordJson(rows[k]!), origin: (k) => `item ${rows[k]!.item_id}` };
  }
  for await (const rows of sources.users()) {
    yield { kind: 'user', keys: rows.map((user) => userKey(version, user.user_id)), value: (k) => stats.userRecordJson(rows[k]!), origin: (k) => `user ${rows[k]!.user_id}` };
  }
}

/** Rows a table holds as far as a cheap look tells (newline counts; none for compressed files). */
function rowEstimate(files: readonly InputFile[], format: TableFormat): number | undefined {
  let rows = 0;
  for (const file of files) {
    if (file.lines === undefined) return undefined;
    rows += format === 'csv' ? Math.max(0, file.lines - 1) : file.lines;
  }
  return rows;
}

export async function runBackfill(target: KvTarget, paths: InputPaths, options: BackfillOptions = {}): Promise<BackfillResult> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const inputs = await openInputs(paths);

  // The live version's keys are what readers are using: never write into it (a version name given
  // twice, or a default name landing in the same second as the live one, would rewrite it in place).
  const live = options.dryRun ? undefined : await liveVersion(target);
  const freshVersion = () => unusedVersionName(newVersionName(), live);
  let checkpoint: Checkpoint | undefined;
  let version = options.version;
  let userFiles: InputFile[] | undefined;
  let resumedFrom: string | undefined;
  if (options.checkpointPath && !options.dryRun) {
    const files: InputFile[] = [];
    for (const [table, t] of [['users', inputs.users], ['items', inputs.items], ['impressions', inputs.impressions]] as const) {
      for (const file of t.files) files.push(await describeInput(table, file));
    }
    userFiles = files.filter((f) => f.table === 'users');
    const identity: CheckpointIdentity = { inputs: files, target: options.targetId ?? target.description, schema: FEATURE_SET_SCHEMA };
    const opened = await Checkpoint.open(options.checkpointPath, identity, { ...(version ? { version } : {}), newVersion: freshVersion, resume: options.resume ?? true });
    checkpoint = opened.checkpoint;
    version = checkpoint.version;
    if (opened.discarded) log(`checkpoint: starting afresh (${opened.discarded})`);
    if (checkpoint.pairsResumed > 0) {
      resumedFrom = options.checkpointPath;
      log(`checkpoint: resuming ${version}: ${checkpoint.pairsResumed.toLocaleString('en-US')} pairs already acknowledged`);
    }
    await checkpoint.save();
  }
  version ??= freshVersion();

  const { stats, items } = await accumulateStats(inputs.sources);
  const statsSeconds = (performance.now() - started) / 1000;
  if (options.progress && !userFiles) userFiles = await Promise.all(inputs.users.files.map((file) => describeInput('users', file)));
  const userRows = userFiles ? rowEstimate(userFiles, inputs.users.format) : undefined;

  const bar =
    options.progress && userRows !== undefined
      ? new cliProgress.SingleBar(
          { stream: process.stderr, format: 'backfill {bar} {percentage}% | {value}/{total} keys | {rate} keys/s | ETA {eta_formatted}', etaBuffer: 20, hideCursor: true },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  const sendStarted = performance.now();
  bar?.start(items + userRows!, 0, { rate: 0 });
  try {
    const result = await publishFeatureSet(target, version, featureChunks(inputs.sources, stats, version), {
      maxPairs: options.batchSize ?? 10_000,
      ...(options.maxRequestBytes ? { maxBytes: options.maxRequestBytes } : {}),
      concurrency: options.concurrency ?? 4,
      verifySample: options.verifySample ?? 200,
      dryRun: options.dryRun ?? false,
      ...(live !== undefined ? { liveVersion: live } : {}),
      ...(checkpoint ? { checkpoint } : {}),
      onProgress: (done) => bar?.update(done, { rate: Math.round(done / Math.max(1e-3, (performance.now() - sendStarted) / 1000)).toLocaleString('en-US') }),
    });
    bar?.update(result.written);
    if (checkpoint && result.flipped) await checkpoint.remove();
    return {
      ...result,
      seconds: (performance.now() - started) / 1000,
      statsSeconds,
      users: result.active.users,
      items: result.active.items,
      ...(checkpoint ? { checkpoint: checkpoint.path } : {}),
      ...(resumedFrom ? { resumedFrom } : {}),
    };
  } finally {
    bar?.stop();
  }
}

/** The version fs:active names now, if any. */
async function liveVersion(target: KvTarget): Promise<string | undefined> {
  const raw = await target.get(ACTIVE_KEY);
  if (raw === null) return undefined;
  try {
    return parseActiveFeatureSet(JSON.parse(raw))?.version;
  } catch {
    return undefined;
  }
}

/** `name`, or `name-2`, `name-3`... when `name` is the live version. */
function unusedVersionName(name: string, live: string | undefined): string {
  let candidate = name;
  for (let n = 2; candidate === live; n++) candidate = `${name}-${n}`;
  return candidate;
}

/** Backfills the feature set of a world directory (users.csv, items.csv, impressions.csv). */
export async function backfillWorld(target: KvTarget, worldDir: string, options: BackfillOptions = {}): Promise<BackfillResult> {
  return runBackfill(target, worldInputs(worldDir), { batchSize: 5_000, concurrency: 1, ...options });
}
