// Writes a whole feature-set version, reads a sample back, and only then flips fs:active: readers
// never see a half-written set.
import { ACTIVE_KEY, type ActiveFeatureSet } from '../../model/features/kv-layout.ts';
import { FEATURE_SET_SCHEMA } from '../../model/features/records.ts';
import type { KvTarget } from './kv-target.ts';
import type { KvPair } from './records.ts';

export interface PublishOptions {
  batchSize: number;
  /** read back this many sampled pairs before flipping fs:active */
  verifySample: number;
  onProgress?: (written: number) => void;
}

export interface PublishResult {
  active: ActiveFeatureSet;
  written: number;
  verified: number;
}

export async function publishFeatureSet(
  target: KvTarget,
  version: string,
  pairs: AsyncIterable<KvPair>,
  options: PublishOptions,
): Promise<PublishResult> {
  let written = 0;
  let users = 0;
  let items = 0;
  const sample: KvPair[] = [];
  let batch: KvPair[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    await target.putBatch(batch);
    written += batch.length;
    options.onProgress?.(written);
    batch = [];
  };
  for await (const pair of pairs) {
    if (pair.key.includes(':u:')) users++;
    else items++;
    // Reservoir sample, so verification covers the whole run, not just its start.
    const seen = users + items;
    if (sample.length < options.verifySample) sample.push(pair);
    else {
      const j = Math.floor(Math.random() * seen);
      if (j < options.verifySample) sample[j] = pair;
    }
    batch.push(pair);
    if (batch.length >= options.batchSize) await flush();
  }
  await flush();

  for (const pair of sample) {
    const stored = await target.get(pair.key);
    if (stored !== pair.value) {
      throw new Error(`verify failed: ${pair.key} reads back ${stored === null ? 'missing' : 'different'}; fs:active not changed`);
    }
  }

  const active: ActiveFeatureSet = { version, schema: FEATURE_SET_SCHEMA, written_at: new Date().toISOString(), users, items };
  await target.put(ACTIVE_KEY, JSON.stringify(active));
  return { active, written, verified: sample.length };
}

/** A sortable, KV-key-safe version name: fs-20261127T183000Z */
export function newVersionName(now = new Date()): string {
  return `fs-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
}
