// The worker isolate's V8 heap, read over the DevTools protocol from wrangler dev's inspector
// (Runtime.getHeapUsage). workerd exposes no memory API to the worker itself, and does not answer
// HeapProfiler.collectGarbage, so the figure includes garbage not yet collected (an upper bound).
import WebSocket from 'ws';

export interface HeapUsage {
  used_mb: number;
  total_mb: number;
}

export async function isolateHeap(inspectorPort: number, timeoutMs = 10_000): Promise<HeapUsage> {
  // wrangler's inspector proxy checks Origin against localhost.
  const ws = new WebSocket(`ws://127.0.0.1:${inspectorPort}/ws`, { headers: { Origin: 'http://localhost' } });
  try {
    return await new Promise<HeapUsage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer from the inspector within ${timeoutMs} ms`)), timeoutMs);
      const id = 1;
      ws.once('open', () => ws.send(JSON.stringify({ id, method: 'Runtime.getHeapUsage', params: {} })));
      ws.on('message', (data) => {
        const message = JSON.parse(String(data)) as { id?: number; result?: { usedSize?: number; totalSize?: number }; error?: { message: string } };
        if (message.id !== id) return;
        clearTimeout(timer);
        if (message.error || !message.result) reject(new Error(`Runtime.getHeapUsage: ${message.error?.message ?? 'no result'}`));
        else resolve({ used_mb: Number(message.result.usedSize) / 2 ** 20, total_mb: Number(message.result.totalSize) / 2 ** 20 });
      });
      ws.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      ws.once('close', () => {
        clearTimeout(timer);
        reject(new Error('inspector connection closed'));
      });
    });
  } finally {
    ws.terminate();
  }
}

/** A V8 CPU profile (the DevTools .cpuprofile format) as Profiler.stop returns it. */
export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }; hitCount?: number; children?: number[] }>;
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/**
 * Profiles the isolate while `work` runs (Profiler.start / Profiler.stop over the inspector), at
 * `intervalUs` sampling. Opens in Chrome DevTools' Performance panel or speedscope.
 */
export async function cpuProfile(inspectorPort: number, work: () => Promise<void>, intervalUs = 100, timeoutMs = 30_000): Promise<CpuProfile> {
  const ws = new WebSocket(`ws://127.0.0.1:${inspectorPort}/ws`, { headers: { Origin: 'http://localhost' } });
  let nextId = 1;
  const pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  ws.on('message', (data) => {
    const message = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } };
    const waiter = message.id === undefined ? undefined : pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id!);
    if (message.error) waiter.reject(new Error(message.error.message));
    else waiter.resolve(message.result);
  });
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => reject(new Error(`${method}: no answer from the inspector within ${timeoutMs} ms`)), timeoutMs);
      pending.set(id, { resolve: (r) => (clearTimeout(timer), resolve(r)), reject: (e) => (clearTimeout(timer), reject(e)) });
      ws.send(JSON.stringify({ id, method, params }));
    });
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await call('Profiler.enable');
    await call('Profiler.setSamplingInterval', { interval: intervalUs });
    await call('Profiler.start');
    await work();
    const { profile } = (await call('Profiler.stop')) as { profile: CpuProfile };
    return profile;
  } finally {
    ws.terminate();
  }
}

/** Self time per function (ms, descending): where a profile's samples landed. */
export function selfTimes(profile: CpuProfile): Array<{ name: string; ms: number; share: number }> {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let all = 0;
  samples.forEach((id, i) => {
    const node = byNode.get(id);
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.split('/').pop() ?? '';
    const name = `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
    // timeDeltas[i] is the gap before sample i; the sample stands for the time until the next one.
    const us = deltas[i + 1] ?? 0;
    totals.set(name, (totals.get(name) ?? 0) + us);
    all += us;
  });
  return [...totals.entries()].map(([name, us]) => ({ name, ms: us / 1000, share: all > 0 ? us / all : 0 })).sort((a, b) => b.ms - a.ms);
}
