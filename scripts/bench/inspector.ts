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
