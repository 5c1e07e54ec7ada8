// The worker isolate seen over the DevTools protocol from wrangler dev's inspector: its V8 heap
// (Runtime.getHeapUsage; workerd exposes no memory API to the worker itself, and does not answer
// HeapProfiler.collectGarbage, so the figure includes garbage not yet collected: an upper bound)
// and CPU profiles (Profiler.*).
import WebSocket from 'ws';

export interface HeapUsage {
  used_mb: number;
  total_mb: number;
}

interface Inspector {
  /** Sends one DevTools method; rejects on its error, a closed connection, or no answer within timeoutMs. */
  call(method: string, params?: Record<string, unknown>, timeoutMs?: number): Promise<unknown>;
  close(): void;
}

/** Connects to the inspector (waiting at most timeoutMs); calls are answered by id. */
async function openInspector(inspectorPort: number, timeoutMs: number): Promise<Inspector> {
  // wrangler's inspector proxy checks Origin against localhost.
  const ws = new WebSocket(`ws://127.0.0.1:${inspectorPort}/ws`, { headers: { Origin: 'http://localhost' } });
  let nextId = 1;
  const pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  const failAll = (error: Error) => {
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  };
  ws.on('message', (data) => {
    const message = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } };
    const waiter = message.id === undefined ? undefined : pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id!);
    if (message.error) waiter.reject(new Error(message.error.message));
    else waiter.resolve(message.result);
  });
  ws.on('error', failAll);
  ws.on('close', () => failAll(new Error('inspector connection closed')));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer from the inspector within ${timeoutMs} ms`)), timeoutMs);
      ws.once('open', () => (clearTimeout(timer), resolve()));
      ws.once('error', (error) => (clearTimeout(timer), reject(error)));
      ws.once('close', () => (clearTimeout(timer), reject(new Error('inspector connection closed'))));
    });
  } catch (error) {
    ws.terminate();
    throw error;
  }
  return {
    call: (method, params = {}, callTimeoutMs = timeoutMs) =>
      new Promise<unknown>((resolve, reject) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${method}: no answer from the inspector within ${Math.round(callTimeoutMs)} ms`));
        }, callTimeoutMs);
        const settle = <T>(done: (value: T) => void) => (value: T) => {
          clearTimeout(timer);
          done(value);
        };
        pending.set(id, { resolve: settle(resolve), reject: settle((error: Error) => reject(new Error(`${method}: ${error.message}`))) });
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.terminate(),
  };
}

export async function isolateHeap(inspectorPort: number, timeoutMs = 10_000): Promise<HeapUsage> {
  const deadline = Date.now() + timeoutMs; // one bound for connecting and the call together
  const inspector = await openInspector(inspectorPort, timeoutMs);
  try {
    return await heapUsage(inspector, Math.max(0, deadline - Date.now()));
  } finally {
    inspector.close();
  }
}

async function heapUsage(inspector: Inspector, timeoutMs: number): Promise<HeapUsage> {
  const result = (await inspector.call('Runtime.getHeapUsage', {}, timeoutMs)) as { usedSize?: number; totalSize?: number } | undefined;
  if (!result) throw new Error('Runtime.getHeapUsage: no result');
  return { used_mb: Number(result.usedSize) / 2 ** 20, total_mb: Number(result.totalSize) / 2 ** 20 };
}

/**
 * The isolate's V8 heap still in use after a full garbage collection. workerd does not answer
 * HeapProfiler.collectGarbage, but V8 collects everything before it takes a heap snapshot: the
 * snapshot's chunks are ignored, the heap is read right after it.
 */
export async function retainedHeap(inspectorPort: number, timeoutMs = 120_000): Promise<HeapUsage> {
  const inspector = await openInspector(inspectorPort, timeoutMs);
  try {
    await inspector.call('HeapProfiler.enable', {}, timeoutMs);
    await inspector.call('HeapProfiler.takeHeapSnapshot', { reportProgress: false }, timeoutMs);
    return await heapUsage(inspector, timeoutMs);
  } finally {
    inspector.close();
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
  const inspector = await openInspector(inspectorPort, timeoutMs);
  try {
    await inspector.call('Profiler.enable');
    await inspector.call('Profiler.setSamplingInterval', { interval: intervalUs });
    await inspector.call('Profiler.start');
    await work();
    const { profile } = (await inspector.call('Profiler.stop')) as { profile: CpuProfile };
    return profile;
  } finally {
    inspector.close();
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
