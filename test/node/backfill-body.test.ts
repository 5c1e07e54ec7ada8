// The bulk-write bodies the backfill builds (publishFeatureSet + BodyBuilder): the bytes must equal
// JSON.stringify of the pairs, requests must be packed greedily up to the pair and byte limits, and
// the UTF-8 sizes used for KV's limits and the largest-value figure must be exact for non-ASCII text
// and lone surrogates. A guard for anyone who makes the encoding faster: the output may not change.
import { describe, expect, it } from 'vitest';
import { publishFeatureSet, type PairChunk } from '../../scripts/backfill/publish.ts';
import { subsetBody, type KvTarget, type WireBatch } from '../../scripts/backfill/kv-target.ts';

const VALUES = [
  '{"a":1}',
  'plain',
  'quote " and backslash \\ and \\u0041',
  'control \n\t\u0001 chars',
  'accents é ü ß and 中文',
  'emoji 😀 pair',
  'lone \ud800 surrogate',
  'trailing lone \udc00',
  '',
  'x'.repeat(300),
  // the largest in UTF-8 (600 bytes) though not in length: JSON writes the surrogates as ASCII escapes
  '\udbff'.repeat(200),
];
const KEYS = ['k0', 'k"1', 'k\\2', 'ключ3', 'k😀4', 'k\ud8005', 'k6', 'k7', 'k8', 'k9'];

class RecordingTarget implements KvTarget {
  readonly description = 'recording';
  readonly maxPairs = 10_000;
  readonly bodies: { keys: string[]; text: string; bytes: number; ends: number[]; batch: WireBatch }[] = [];
  async putBatch(batch: WireBatch): Promise<void> {
    // Copied now: the buffer is reused once the promise settles.
    const copy = Buffer.from(batch.body);
    this.bodies.push({ keys: [...batch.keys], text: copy.toString('utf8'), bytes: copy.length, ends: [...batch.ends], batch: { ...batch, body: copy, buffer: copy } });
  }
  async get(): Promise<string | null> {
    return null;
  }
  async put(): Promise<void> {}
  async close(): Promise<void> {}
}

/** `count` pairs cycling through the tricky keys and values, in chunks of 7. */
function chunks(count: number): { pairs: [string, string][]; source: AsyncIterable<PairChunk> } {
  const pairs: [string, string][] = Array.from({ length: count }, (_, i) => [`${KEYS[i % KEYS.length]}-${i}`, VALUES[i % VALUES.length]!]);
  async function* source(): AsyncGenerator<PairChunk> {
    for (let at = 0; at < pairs.length; at += 7) {
      const slice = pairs.slice(at, at + 7);
      yield { kind: 'item', keys: slice.map(([k]) => k), value: (i) => slice[i]![1] };
    }
  }
  return { pairs, source: source() };
}

/** The greedy packing the builder must reproduce, from JSON.stringify of each pair. */
function expectedBodies(pairs: [string, string][], maxPairs: number, maxBytes: number): string[][] {
  const out: string[][] = [];
  let current: string[] = [];
  let bytes = 1;
  for (const [key, value] of pairs) {
    const piece = JSON.stringify({ key, value });
    const size = Buffer.byteLength(piece);
    if (current.length >= maxPairs || (current.length > 0 && bytes + 1 + 1 + size > maxBytes)) {
      out.push(current);
      current = [];
      bytes = 1;
    }
    bytes += (current.length > 0 ? 1 : 0) + size;
    current.push(piece);
  }
  if (current.length > 0) out.push(current);
  return out;
}

describe('bulk-write bodies', () => {
  for (const [maxPairs, maxBytes] of [
    [10_000, 100_000_000],
    [4, 100_000_000],
    [10_000, 2048],
    [3, 2500],
  ] as const) {
    it(`are the JSON of the pairs, packed greedily (${maxPairs} pairs, ${maxBytes} bytes)`, async () => {
      const { pairs, source } = chunks(95);
      const target = new RecordingTarget();
      const result = await publishFeatureSet(target, 'v1', source, { maxPairs, maxBytes, verifySample: 0, concurrency: 2 });
      const expected = expectedBodies(pairs, maxPairs, maxBytes);
      expect(target.bodies.map((b) => b.text)).toEqual(expected.map((pieces) => `[${pieces.join(',')}]`));
      for (const body of target.bodies) expect(body.bytes).toBeLessThanOrEqual(maxBytes);
      expect(result.bytes).toBe(target.bodies.reduce((n, b) => n + b.bytes, 0));
      expect(result.largestValue).toBe(Math.max(...VALUES.map((v) => Buffer.byteLength(v))));
      // ends[] lets a subset be re-sent without re-encoding.
      const body = target.bodies[0]!;
      const subset = subsetBody(body.batch, [0, body.keys.length - 1]);
      expect(JSON.parse(subset.toString('utf8'))).toEqual(JSON.parse(body.text).filter((_: unknown, i: number) => i === 0 || i === body.keys.length - 1));
    });
  }
});
