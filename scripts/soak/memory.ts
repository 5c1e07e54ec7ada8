// The worker's memory during the soak, read from outside the worker: the isolate's V8 heap over the
// DevTools protocol (an upper bound: workerd does not answer a forced GC, so it includes garbage not
// yet collected), ORT's wasm linear memory from /bench/stats (it counts against the isolate's 128 MB
// beside the heap), and the RSS of the workerd process that runs the worker, from /proc.
import { isolateHeap } from '../bench/inspector.ts';
import { processMemory } from '../bench/wrangler-dev.ts';

export interface MemorySample {
  /** seconds since the load started (negative: before it) */
  t: number;
  heap_mb: number | null;
  wasm_mb: number | null;
  /** heap + wasm: what counts against the isolate's limit */
  isolate_mb: number | null;
  rss_mb: number | null;
}

export async function sampleMemory(opts: { base: string; inspectorPort: number; pid: number | undefined; t: number }): Promise<MemorySample> {
  const [heap, stats, rss] = await Promise.all([
    isolateHeap(opts.inspectorPort).catch(() => null),
    fetch(new URL('/bench/stats', opts.base), { signal: AbortSignal.timeout(10_000) })
      .then(async (res) => (res.ok ? ((await res.json()) as { ort_wasm_memory_bytes: number | null }) : null))
      .catch(() => null),
    opts.pid !== undefined ? processMemory(opts.pid) : Promise.resolve(undefined),
  ]);
  const heapMb = heap ? heap.used_mb : null;
  const wasmMb = stats?.ort_wasm_memory_bytes != null ? stats.ort_wasm_memory_bytes / 2 ** 20 : null;
  return { t: opts.t, heap_mb: heapMb, wasm_mb: wasmMb, isolate_mb: heapMb !== null ? heapMb + (wasmMb ?? 0) : null, rss_mb: rss?.rss_mb ?? null };
}

/** Least-squares slope of `field` over the samples, in MB per minute (null with fewer than 3 points). */
export function slopePerMinute(samples: readonly MemorySample[], field: 'isolate_mb' | 'rss_mb' | 'heap_mb'): number | null {
  const points = samples.filter((s) => s[field] !== null).map((s) => [s.t, s[field]!] as const);
  if (points.length < 3) return null;
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den > 0 ? (num / den) * 60 : null;
}
