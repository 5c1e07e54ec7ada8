// The backfill's checkpoint: which pairs of a feature-set version the KV target has acknowledged, so
// an interrupted run resumes where it stopped. Pairs are numbered in the order the backfill produces
// them (items, then users, in table order); the checkpoint keeps the acknowledged numbers as merged
// ranges. It belongs to one input (the content hash of every input file) and one target, and names
// the version it writes: a different input or target never resumes from it. It is rewritten
// atomically (temp file, fsync, rename), so a kill leaves the previous or the next state, never a
// torn one.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

const KIND = 'edge-ranker-backfill-checkpoint';

export type Range = [start: number, end: number];

export interface InputFile {
  table: string;
  path: string;
  bytes: number;
  /** content hash (identity, not security: SHA-1 reads 200 MB in ~0.8 s here, SHA-256 in ~1.6 s) */
  sha1: string;
  /** newline count (rows + header for CSV); undefined for compressed files */
  lines?: number;
}

/** What a checkpoint belongs to: the inputs (by content), the target, and the record schema. */
export interface CheckpointIdentity {
  inputs: InputFile[];
  target: string;
  schema: string;
}

interface CheckpointFile {
  kind: typeof KIND;
  format: 1;
  input_key: string;
  identity: CheckpointIdentity;
  version: string;
  acked: Range[];
  pairs_acked: number;
  updated_at: string;
}

/** Content hash and newline count of one file, in one read. */
export async function describeInput(table: string, path: string): Promise<InputFile> {
  const hash = createHash('sha1');
  let bytes = 0;
  let lines = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
  }
  const compressed = path.toLowerCase().endsWith('.gz') || /\.(parquet|pq)$/i.test(path);
  return { table, path: resolve(path), bytes, sha1: hash.digest('hex'), ...(compressed ? {} : { lines }) };
}

export function inputKey(identity: CheckpointIdentity): string {
  // The key ignores where the files are, only what they hold.
  const stable = { ...identity, inputs: identity.inputs.map(({ table, bytes, sha1 }) => ({ table, bytes, sha1 })) };
  return createHash('sha256').update(JSON.stringify(stable)).digest('hex');
}

function mergeRanges(ranges: Range[]): Range[] {
  const sorted = ranges.filter(([s, e]) => e > s).sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

function rangeCount(ranges: readonly Range[]): number {
  return ranges.reduce((n, [s, e]) => n + (e - s), 0);
}

export interface OpenCheckpointResult {
  checkpoint: Checkpoint;
  /** why an existing checkpoint file was not resumed (undefined: none existed, or it was resumed) */
  discarded?: string;
}

export class Checkpoint {
  private acked: Range[];
  /** ranges acknowledged before this run: the ones this run skips */
  private readonly skip: Range[];
  private cursor = 0;
  private saving: Promise<void> = Promise.resolve();
  private dirty = false;

  private constructor(
    readonly path: string,
    readonly identity: CheckpointIdentity,
    readonly key: string,
    readonly version: string,
    acked: Range[],
  ) {
    this.acked = mergeRanges(acked);
    this.skip = this.acked.map(([s, e]) => [s, e] as Range);
  }

  /**
   * Opens the checkpoint at `path` for `identity`. It resumes the file's version when the file
   * belongs to the same input and target and `version` is unset or equal; otherwise it starts a
   * new checkpoint for `version ?? newVersion()` (the old file is replaced on the first save).
   */
  static async open(path: string, identity: CheckpointIdentity, options: { version?: string; newVersion: () => string; resume: boolean }): Promise<OpenCheckpointResult> {
    const key = inputKey(identity);
    let discarded: string | undefined;
    let existing: CheckpointFile | undefined;
    try {
      existing = JSON.parse(await readFile(path, 'utf8')) as CheckpointFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') discarded = `unreadable checkpoint ${path} (${error instanceof Error ? error.message : String(error)})`;
    }
    if (existing) {
      if (existing.kind !== KIND || existing.format !== 1 || !Array.isArray(existing.acked)) discarded = `${path} is not a backfill checkpoint`;
      else if (!options.resume) discarded = `--no-resume: not resuming ${existing.version}`;
      else if (existing.input_key !== key) discarded = `${path} belongs to a different input or target (version ${existing.version})`;
      else if (options.version !== undefined && options.version !== existing.version) discarded = `${path} is for version ${existing.version}, not ${options.version}`;
      else return { checkpoint: new Checkpoint(path, identity, key, existing.version, existing.acked) };
    }
    let version = options.version ?? options.newVersion();
    // A fresh version never reuses the name of a discarded one (names have one-second resolution).
    if (options.version === undefined && version === existing?.version) version = `${version}-2`;
    return { checkpoint: new Checkpoint(path, identity, key, version, []), ...(discarded ? { discarded } : {}) };
  }

  /** Pairs acknowledged so far (before and during this run). */
  get pairsAcked(): number {
    return rangeCount(this.acked);
  }

  /** Pairs this run skips because an earlier run had them acknowledged. */
  get pairsResumed(): number {
    return rangeCount(this.skip);
  }

  /** Whether pair `seq` was acknowledged before this run; call with increasing `seq`. */
  wasAcked(seq: number): boolean {
    while (this.cursor < this.skip.length && this.skip[this.cursor]![1] <= seq) this.cursor++;
    const range = this.skip[this.cursor];
    return range !== undefined && range[0] <= seq;
  }

  /** Records acknowledged pairs and saves (saves are serialised; a burst coalesces into one). */
  ack(ranges: readonly Range[]): Promise<void> {
    this.acked = mergeRanges([...this.acked, ...ranges.map(([s, e]) => [s, e] as Range)]);
    return this.scheduleSave();
  }

  /** Writes the current state now (e.g. when a run starts, so the version is on disk). */
  save(): Promise<void> {
    return this.scheduleSave();
  }

  private scheduleSave(): Promise<void> {
    if (this.dirty) return this.saving;
    this.dirty = true;
    this.saving = this.saving.then(async () => {
      this.dirty = false;
      await this.write();
    });
    return this.saving;
  }

  private async write(): Promise<void> {
    const file: CheckpointFile = {
      kind: KIND,
      format: 1,
      input_key: this.key,
      identity: this.identity,
      version: this.version,
      acked: this.acked,
      pairs_acked: rangeCount(this.acked),
      updated_at: new Date().toISOString(),
    };
    await mkdir(dirname(this.path), { recursive: true });
    const temp = `${this.path}.${process.pid}.tmp`;
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(JSON.stringify(file) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, this.path);
  }

  /** Waits for pending saves. */
  async flush(): Promise<void> {
    await this.saving;
  }

  /** The version is live: the checkpoint has nothing left to resume. */
  async remove(): Promise<void> {
    await this.flush();
    await rm(this.path, { force: true });
  }
}
