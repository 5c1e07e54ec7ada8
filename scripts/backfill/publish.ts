// Writes a whole feature-set version, reads a sample back, and only then flips fs:active: readers
// never see a half-written set.
//
// Pairs are numbered in production order and packed into requests of at most `maxPairs` pairs and
// `maxBytes` bytes of bulk-write JSON; up to `concurrency` requests are in flight. Every
// acknowledged request is recorded in the checkpoint (when there is one), and a resumed run skips
// the pairs an earlier run had acknowledged without even computing their values. fs:active is
// written last, after every request is acknowledged and the sample reads back equal.
import { ACTIVE_KEY, MAX_KV_KEY_BYTES, type ActiveFeatureSet } from '../../model/features/kv-layout.ts';
import { FEATURE_SET_SCHEMA } from '../../model/features/records.ts';
import type { Checkpoint, Range } from './checkpoint.ts';
import { BodyBuilder, type KvTarget } from './kv-target.ts';

/** Cloudflare's documented limits (Workers KV REST API, bulk write). */
export const KV_LIMITS = {
  keyBytes: MAX_KV_KEY_BYTES,
  valueBytes: 25 * 1024 * 1024,
  pairsPerRequest: 10_000,
  /** "The entire request size must be 100 megabytes or less": read as decimal megabytes, the stricter reading. */
  requestBytes: 100_000_000,
} as const;

export class KvLimitError extends Error {
  override name = 'KvLimitError';
}

/** A run of pairs of one kind whose values are computed only when needed. */
export interface PairChunk {
  kind: 'user' | 'item';
  keys: readonly string[];
  /** the value of keys[index] */
  value(index: number): string;
  /** where keys[index] came from, for error messages (e.g. "users.csv row 12") */
  origin?(index: number): string;
}

export interface PublishOptions {
  /** pairs per request (at most KV_LIMITS.pairsPerRequest) */
  maxPairs: number;
  /** bytes of JSON per request (at most KV_LIMITS.requestBytes) */
  maxBytes?: number;
  /** requests in flight */
  concurrency?: number;
  /** read back this many sampled pairs before flipping fs:active */
  verifySample: number;
  /** compute and batch everything, send nothing */
  dryRun?: boolean;
  checkpoint?: Checkpoint;
  /**
   * The version fs:active names now. Its keys are never written: when `version` is the live one
   * (a resumed checkpoint whose run flipped but was killed before removing it), only a run with
   * nothing left to send may go on, and it rewrites nothing but fs:active.
   */
  liveVersion?: string;
  /** called as pairs are acknowledged (or skipped as already acknowledged), with the running count */
  onProgress?: (done: number) => void;
}

export interface PublishResult {
  active: ActiveFeatureSet;
  /** pairs in the feature set */
  written: number;
  /** pairs sent by this run */
  sent: number;
  /** pairs skipped because an earlier run had them acknowledged */
  resumed: number;
  requests: number;
  /** bytes of bulk-write JSON in those requests */
  bytes: number;
  largestValue: number;
  verified: number;
  /** false for a dry run: nothing was written and fs:active is unchanged */
  flipped: boolean;
}

interface SampleSlot {
  key: string;
  value: string;
}

const utf8Bytes = (text: string): number => Buffer.byteLength(text, 'utf8');
// eslint-disable-next-line no-control-regex
const isAscii = (text: string): boolean => !/[^\x00-\x7f]/.test(text);

/** Checks one pair against KV's limits before anything is sent. */
export function checkPair(key: string, valueBytes: number, origin: string | undefined): void {
  const where = origin ? ` (${origin})` : '';
  const keyBytes = utf8Bytes(key);
  if (keyBytes > KV_LIMITS.keyBytes) throw new KvLimitError(`key ${JSON.stringify(key.slice(0, 60))}... is ${keyBytes} bytes${where}; Workers KV keys are at most ${KV_LIMITS.keyBytes} bytes. Nothing with this key was sent.`);
  if (key === '' || key === '.' || key === '..') throw new KvLimitError(`key ${JSON.stringify(key)}${where} is not allowed by Workers KV`);
  if (valueBytes > KV_LIMITS.valueBytes) {
    throw new KvLimitError(`value of ${key}${where} is ${valueBytes.toLocaleString('en-US')} bytes; Workers KV values are at most ${KV_LIMITS.valueBytes.toLocaleString('en-US')} bytes (25 MiB). Nothing with this key was sent.`);
  }
}

export async function publishFeatureSet(target: KvTarget, version: string, chunks: AsyncIterable<PairChunk>, options: PublishOptions): Promise<PublishResult> {
  const maxPairs = Math.min(options.maxPairs, target.maxPairs, KV_LIMITS.pairsPerRequest);
  const maxBytes = Math.min(options.maxBytes ?? KV_LIMITS.requestBytes, KV_LIMITS.requestBytes);
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const checkpoint = options.checkpoint;
  if (checkpoint && checkpoint.version !== version) throw new Error(`checkpoint is for version ${checkpoint.version}, not ${version}`);

  let seq = 0;
  let users = 0;
  let items = 0;
  let sent = 0;
  let resumed = 0;
  let requests = 0;
  let bytes = 0;
  let largestValue = 0;
  let done = 0;
  const sample: SampleSlot[] = [];
  let seen = 0;

  // The batch being filled.
  const builder = new BodyBuilder();
  let ranges: Range[] = [];

  const inFlight = new Set<Promise<void>>();
  let failure: unknown;

  const dispatch = async (): Promise<void> => {
    if (builder.count === 0) return;
    requests++;
    bytes += builder.bytes;
    if (options.dryRun) {
      sent += builder.count;
      done += builder.count;
      builder.release(builder.finish());
      ranges = [];
      options.onProgress?.(done);
      return;
    }
    // Wait for a free slot before closing the batch, so at most `concurrency` bodies are held.
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    if (failure) throw failure;
    const batch = builder.finish();
    const batchRanges = ranges;
    ranges = [];
    const request = target
      .putBatch(batch)
      .then(async () => {
        sent += batch.keys.length;
        done += batch.keys.length;
        builder.release(batch);
        options.onProgress?.(done);
        if (checkpoint) await checkpoint.ack(batchRanges);
      })
      .catch((error: unknown) => {
        failure ??= error;
      })
      .finally(() => inFlight.delete(request));
    inFlight.add(request);
  };

  for await (const chunk of chunks) {
    if (failure) break;
    const n = chunk.keys.length;
    if (chunk.kind === 'user') users += n;
    else items += n;
    for (let k = 0; k < n; k++, seq++) {
      const key = chunk.keys[k]!;
      // Reservoir sample over the whole set, so verification covers all of it, not just its start.
      seen++;
      const slot = sample.length < options.verifySample ? sample.length : Math.floor(Math.random() * seen);
      const sampled = slot < options.verifySample;

      if (checkpoint?.wasAcked(seq)) {
        resumed++;
        done++;
        if (sampled) sample[slot] = { key, value: chunk.value(k) };
        continue;
      }
      if (version === options.liveVersion) {
        throw new Error(`feature set ${version} is live (fs:active names it): a backfill never rewrites the live set's keys; publish under another version`);
      }
      const value = chunk.value(k);
      const valueBytes = utf8Bytes(value);
      checkPair(key, valueBytes, chunk.origin?.(k));
      if (valueBytes > largestValue) largestValue = valueBytes;
      if (sampled) sample[slot] = { key, value };

      const piece = `{"key":${JSON.stringify(key)},"value":${JSON.stringify(value)}}`;
      // JSON escaping adds only ASCII, so an all-ASCII key and value make an all-ASCII piece.
      const pieceBytes = valueBytes === value.length && isAscii(key) ? piece.length : utf8Bytes(piece);
      if (builder.count >= maxPairs || (builder.count > 0 && builder.bytes + 1 + pieceBytes > maxBytes)) {
        await dispatch();
        if (failure) break;
      }
      builder.add(key, piece, pieceBytes);
      const last = ranges[ranges.length - 1];
      if (last && last[1] === seq) last[1] = seq + 1;
      else ranges.push([seq, seq + 1]);
    }
    if (failure) break;
    if (resumed > 0) options.onProgress?.(done);
  }
  if (!failure) await dispatch();
  while (inFlight.size > 0) await Promise.race(inFlight);
  if (checkpoint) await checkpoint.flush();
  if (failure) throw failure;

  const total = seq;
  const active: ActiveFeatureSet = { version, schema: FEATURE_SET_SCHEMA, written_at: new Date().toISOString(), users, items };
  const result: PublishResult = { active, written: total, sent, resumed, requests, bytes, largestValue, verified: 0, flipped: false };
  if (options.dryRun) return result;

  // Read a sample back; only an exact match for every sampled pair lets fs:active move.
  let next = 0;
  const verifyOne = async () => {
    while (next < sample.length) {
      const pair = sample[next++]!;
      const stored = await target.get(pair.key);
      if (stored !== pair.value) {
        throw new Error(`verify failed: ${pair.key} reads back ${stored === null ? 'missing' : 'different'}; fs:active not changed`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, sample.length) }, verifyOne));
  result.verified = sample.length;

  await target.put(ACTIVE_KEY, JSON.stringify(active));
  result.flipped = true;
  return result;
}

/** A sortable, KV-key-safe version name: fs-20261127T183000Z */
export function newVersionName(now = new Date()): string {
  return `fs-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
}
