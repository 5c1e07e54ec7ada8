// The exposure log's one sink interface and its two implementations (README, "Exposure logging"):
//  - QueueSink (production): a Cloudflare Queue (binding EXPOSURES). A Queue keeps whole rows -
//    ids, positions, scores and every model input of every served item - where Analytics Engine
//    would cap a data point at 20 doubles and 16 KB of blobs. A message is at most 128 KB, so a
//    large slate is split into parts (model/data/exposure-row.ts splitExposure; readers join them).
//  - KvSink (local dev and tests): one KV value per row under `log:<ts>:<uuid>` in the FEATURES
//    namespace, which `npm run read-exposures` exports from Miniflare's local state. Works under
//    wrangler dev and in the vitest pool alike.
// EXPOSURE_SINK picks one: "queue" (the default when EXPOSURES is bound), "kv", or "off".
// Writes run under ctx.waitUntil after the response is built, and a failed write is counted and
// logged: the ranking is never lost or delayed because of the log.
import { splitExposure, type ExposureRow } from '../../model/data/exposure-row.ts';
import type { Bindings } from '../env.ts';

export interface ExposureSink {
  readonly name: 'queue' | 'kv';
  write(row: ExposureRow): Promise<void>;
}

export const EXPOSURE_KV_PREFIX = 'log:';
/** Queue limits: 128 KB per message, 100 messages and 256 KB per sendBatch. Kept below them. */
export const QUEUE_MESSAGE_BYTES = 120_000;
const QUEUE_BATCH_MESSAGES = 100;
const QUEUE_BATCH_BYTES = 240_000;

/** KV key of a row: sorted by time, unique per write. */
export function exposureKey(row: ExposureRow): string {
  return `${EXPOSURE_KV_PREFIX}${String(row.ts).padStart(13, '0')}:${crypto.randomUUID()}`;
}

export class KvSink implements ExposureSink {
  readonly name = 'kv' as const;
  constructor(private readonly kv: KVNamespace) {}

  async write(row: ExposureRow): Promise<void> {
    await this.kv.put(exposureKey(row), JSON.stringify(row));
  }
}

export class QueueSink implements ExposureSink {
  readonly name = 'queue' as const;
  constructor(private readonly queue: Queue) {}

  async write(row: ExposureRow): Promise<void> {
    const parts = splitExposure(row, QUEUE_MESSAGE_BYTES);
    if (parts.length === 1) {
      await this.queue.send(row, { contentType: 'json' });
      return;
    }
    let batch: MessageSendRequest[] = [];
    let bytes = 0;
    for (const part of parts) {
      const size = JSON.stringify(part).length;
      if (batch.length > 0 && (batch.length === QUEUE_BATCH_MESSAGES || bytes + size > QUEUE_BATCH_BYTES)) {
        await this.queue.sendBatch(batch);
        batch = [];
        bytes = 0;
      }
      batch.push({ body: part, contentType: 'json' });
      bytes += size;
    }
    if (batch.length > 0) await this.queue.sendBatch(batch);
  }
}

/** Per-isolate counters, reported by /healthz. */
export const exposureCounters = { written: 0, failed: 0, pending: 0 };

const kvSinks = new WeakMap<KVNamespace, KvSink>();
const queueSinks = new WeakMap<Queue, QueueSink>();

/** The sink EXPOSURE_SINK asks for, or null when logging is off (or its binding is missing). */
export function exposureSink(env: Bindings): ExposureSink | null {
  const wanted = (env.EXPOSURE_SINK ?? '').trim().toLowerCase() || (env.EXPOSURES ? 'queue' : 'off');
  if (wanted === 'kv') {
    let sink = kvSinks.get(env.FEATURES);
    if (!sink) kvSinks.set(env.FEATURES, (sink = new KvSink(env.FEATURES)));
    return sink;
  }
  if (wanted === 'queue' && env.EXPOSURES) {
    let sink = queueSinks.get(env.EXPOSURES);
    if (!sink) queueSinks.set(env.EXPOSURES, (sink = new QueueSink(env.EXPOSURES)));
    return sink;
  }
  return null;
}

/**
 * Writes one row in the background: `build` runs after the caller has returned (the first await),
 * so neither building nor writing the row delays the response. Failures are counted and logged.
 */
export function logExposure(sink: ExposureSink, build: () => Promise<ExposureRow>, waitUntil: ((p: Promise<unknown>) => void) | undefined, log: (message: string, error: unknown) => void): Promise<void> {
  exposureCounters.pending++;
  const task = (async () => {
    await Promise.resolve();
    const row = await build();
    await sink.write(row);
  })().then(
    () => {
      exposureCounters.pending--;
      exposureCounters.written++;
    },
    (error: unknown) => {
      exposureCounters.pending--;
      exposureCounters.failed++;
      log(`exposure log write failed (${sink.name})`, error);
    },
  );
  waitUntil?.(task);
  return task;
}
