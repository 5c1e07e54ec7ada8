// Timed HTTP for the bench: node:http over one keep-alive connection (less client overhead than
// fetch), wall-clock time from sending the request to the last byte of the response, and the
// worker's Server-Timing stages.
import http from 'node:http';

export interface Timed {
  ms: number;
  status: number;
  body: string;
  /** Server-Timing stages in ms (total, kv, model, ...) */
  serverTiming: Record<string, number>;
}

export class BenchClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  constructor(readonly base: string) {}

  request(method: 'GET' | 'POST', path: string, body?: string): Promise<Timed> {
    const url = new URL(path, this.base);
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = {};
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const started = performance.now();
      const req = http.request(url, { method, agent: this.agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const ms = performance.now() - started;
          resolve({ ms, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), serverTiming: parseServerTiming(res.headers['server-timing']) });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Throws unless the answer is 2xx: a benchmark of error responses measures nothing. */
  async ok(method: 'GET' | 'POST', path: string, body?: string): Promise<Timed> {
    const res = await this.request(method, path, body);
    if (res.status < 200 || res.status > 299) throw new Error(`${method} ${path}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
    return res;
  }

  close(): void {
    this.agent.destroy();
  }
}

export function parseServerTiming(header: string | string[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  for (const part of text.split(',')) {
    const match = /^\s*([\w-]+)\s*;\s*dur=([\d.]+)/.exec(part);
    if (match) out[match[1]!] = Number(match[2]);
  }
  return out;
}

/** Nearest-rank percentile of unsorted values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}
