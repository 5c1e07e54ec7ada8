// The soak's load: `concurrency` loops, each sending one request at a time over a shared keep-alive
// agent until the deadline, every outcome recorded (status 0 = the request failed at the socket
// level or timed out: it counts as a 5xx for the classes that must never see one).
import http from 'node:http';
import { Rng } from '../../model/world/index.ts';
import { REQUEST_CLASSES, type RequestClass, type SoakRequest } from './requests.ts';

export interface Outcome {
  status: number;
  ms: number;
  /** socket error or timeout message when status is 0 */
  error?: string;
  /**
   * status 0 on a reused keep-alive connection whose previous response was a refusal sent before
   * the body was read (413/415): workerd closes such a connection without `Connection: close`, so
   * the next request on it can race the close and be reset
   */
  afterEarlyRefusal?: boolean;
}

export interface ClassTally {
  count: number;
  statuses: Record<string, number>;
  /** status >= 500 or a socket-level failure */
  status_5xx: number;
  /** outcomes outside the class's contract (valid/fault: not 200; invalid: not 4xx) */
  unexpected: number;
  /** socket failures on a connection reused after a 413/415 (see Outcome.afterEarlyRefusal) */
  resets_after_early_refusal: number;
  kinds: Record<string, Record<string, number>>;
  latencies: number[];
  errors: string[];
}

export class Tally {
  readonly classes = Object.fromEntries(REQUEST_CLASSES.map((c): [RequestClass, ClassTally] => [c, { count: 0, statuses: {}, status_5xx: 0, unexpected: 0, resets_after_early_refusal: 0, kinds: {}, latencies: [], errors: [] }])) as Record<RequestClass, ClassTally>;
  requests = 0;

  add(request: SoakRequest, outcome: Outcome): void {
    const t = this.classes[request.class];
    const status = String(outcome.status);
    this.requests++;
    t.count++;
    t.statuses[status] = (t.statuses[status] ?? 0) + 1;
    const kind = (t.kinds[request.kind] ??= {});
    kind[status] = (kind[status] ?? 0) + 1;
    t.latencies.push(outcome.ms);
    if (outcome.status === 0 || outcome.status >= 500) t.status_5xx++;
    if (outcome.afterEarlyRefusal) t.resets_after_early_refusal++;
    const expected = request.class === 'invalid' ? outcome.status >= 400 && outcome.status < 500 : outcome.status === 200;
    if (!expected) {
      t.unexpected++;
      if (t.errors.length < 10) t.errors.push(`${request.kind}: ${outcome.status === 0 ? `${outcome.error}${outcome.afterEarlyRefusal ? ' (connection reused after a 413/415)' : ''}` : `HTTP ${outcome.status}`}`);
    }
  }
}

/** The status of the last response a socket carried. */
const lastStatus = new WeakMap<object, number>();
const EARLY_REFUSALS = new Set([413, 415]);

export function send(agent: http.Agent, base: string, request: SoakRequest, timeoutMs: number): Promise<Outcome> {
  const url = new URL('/v1/rank', base);
  const headers: Record<string, string | number> = {};
  if (request.contentType !== null) headers['content-type'] = request.contentType;
  if (request.body !== null) headers['content-length'] = Buffer.byteLength(request.body);
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    const req = http.request(url, { method: request.method, agent, headers }, (res) => {
      res.resume(); // the body is not checked here, only that it arrives whole
      lastStatus.set(res.socket, res.statusCode ?? 0);
      res.on('end', () => done({ status: res.statusCode ?? 0, ms: performance.now() - started }));
      res.on('error', (error) => done({ status: 0, ms: performance.now() - started, error: `response: ${error.message}` }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error) => {
      const previous = req.socket ? lastStatus.get(req.socket) : undefined;
      done({ status: 0, ms: performance.now() - started, error: error.message, ...(req.reusedSocket && previous !== undefined && EARLY_REFUSALS.has(previous) ? { afterEarlyRefusal: true } : {}) });
    });
    req.end(request.body ?? undefined);
  });
}

export interface LoadOptions {
  base: string;
  concurrency: number;
  seconds: number;
  seed: number;
  pick: (rng: Rng) => SoakRequest;
  timeoutMs?: number;
  /** called about once a second */
  onTick?: (elapsedSeconds: number, tally: Tally) => void;
}

export async function runLoad(options: LoadOptions): Promise<{ tally: Tally; seconds: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency });
  const tally = new Tally();
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  const ticker = setInterval(() => options.onTick?.((performance.now() - started) / 1000, tally), 1000);
  try {
    await Promise.all(
      Array.from({ length: options.concurrency }, async (_, lane) => {
        const rng = Rng.stream(options.seed, `soak-lane-${lane}`);
        while (performance.now() < deadline) {
          const request = options.pick(rng);
          tally.add(request, await send(agent, options.base, request, options.timeoutMs ?? 30_000));
        }
      }),
    );
  } finally {
    clearInterval(ticker);
    agent.destroy();
  }
  return { tally, seconds: (performance.now() - started) / 1000 };
}
