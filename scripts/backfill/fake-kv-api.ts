// The project's one stand-in: a local HTTP server (loopback only) that speaks the part of Cloudflare's
// Workers KV REST API the remote backfill uses, and enforces its documented contract, so the remote
// mode can be tested and benchmarked without an account or a network:
//   PUT {base}/accounts/{account}/storage/kv/namespaces/{namespace}/bulk   (JSON [{key, value, ...}])
//   GET {base}/accounts/{account}/storage/kv/namespaces/{namespace}/values/{key}
// Enforced: `Authorization: Bearer <token>`, a JSON content type, at most 10,000 pairs and
// 100,000,000 bytes per request, keys of 1-512 bytes other than "." and "..", values of at most
// 25 MiB, string keys and values. A violation gets a 4xx in Cloudflare's envelope
// {success: false, errors: [{code, message}], messages: [], result: null} and nothing is stored.
// Faults on demand, at seeded rates: 429 with Retry-After, 5xx, dropped connections (the socket is
// destroyed mid-request, before anything is stored), and 200s listing some keys as unsuccessful.
// It keeps what it accepted, counts writes per key, and snapshots how much of a version existed
// whenever fs:active was written, so tests can prove readers never saw a partial set.
//
// CLI (for benchmarks and manual runs): npx tsx scripts/backfill/fake-kv-api.ts [--port 0]
//   [--rate-429 0.05] [--retry-after 1] [--rate-5xx 0] [--rate-drop 0] [--rate-partial 0] [--seed 1]
// The token is read from CLOUDFLARE_API_TOKEN. It prints one JSON line {"api_base", "pid"} when listening.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { versionPrefix } from '../../model/features/kv-layout.ts';

export const LIMITS = {
  pairsPerRequest: 10_000,
  requestBytes: 100_000_000,
  keyBytes: 512,
  valueBytes: 25 * 1024 * 1024,
} as const;

export interface FakeKvApiOptions {
  token: string;
  port?: number;
  /** path prefix of the API, as in https://api.cloudflare.com/client/v4 */
  basePath?: string;
  /** fraction of write requests answered 429 */
  rate429?: number;
  /** seconds sent in Retry-After with a 429 */
  retryAfterSeconds?: number;
  /** fraction of write requests answered 503 */
  rate5xx?: number;
  /** fraction of write requests whose socket is destroyed while the body arrives */
  rateDrop?: number;
  /** fraction of accepted writes that report a few keys as unsuccessful (those are not stored) */
  ratePartial?: number;
  /** faults apply to reads too */
  faultReads?: boolean;
  /** milliseconds each accepted write waits before it is stored and answered (to slow a run down) */
  writeDelayMs?: number;
  seed?: number;
}

export interface ActiveSnapshot {
  /** the fs:active value written */
  value: string;
  /** keys of the version it names that were stored at that moment */
  versionKeys: number;
}

export interface FakeKvStats {
  writeRequests: number;
  readRequests: number;
  accepted: number;
  pairsStored: number;
  throttled: number;
  serverErrors: number;
  dropped: number;
  partial: number;
  rejected: number;
}

/** mulberry32: small seeded PRNG, so fault sequences repeat. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export class FakeKvApi {
  private server: Server | undefined;
  private readonly random: () => number;
  private readonly namespaces = new Map<string, Map<string, string>>();
  private readonly writes = new Map<string, Map<string, number>>();
  readonly activeSnapshots: ActiveSnapshot[] = [];
  readonly stats: FakeKvStats = { writeRequests: 0, readRequests: 0, accepted: 0, pairsStored: 0, throttled: 0, serverErrors: 0, dropped: 0, partial: 0, rejected: 0 };
  readonly basePath: string;
  /** rejections with their messages, newest last (for tests) */
  readonly rejections: { status: number; code: number; message: string }[] = [];

  constructor(private readonly options: FakeKvApiOptions) {
    this.random = prng(options.seed ?? 1);
    this.basePath = (options.basePath ?? '/client/v4').replace(/\/+$/, '');
  }

  /** Starts listening on 127.0.0.1; returns the API base URL. */
  async start(): Promise<string> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent && !res.destroyed) this.reply(res, 500, { success: false, errors: [{ code: 10001, message: String(error) }], messages: [], result: null });
      });
    });
    server.keepAliveTimeout = 30_000;
    server.requestTimeout = 0;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    const { port } = server.address() as AddressInfo;
    return `http://127.0.0.1:${port}${this.basePath}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** What the namespace holds (a live view). */
  store(namespaceId: string): ReadonlyMap<string, string> {
    return this.namespaces.get(namespaceId) ?? new Map();
  }

  /** How many accepted writes each key received. */
  writeCounts(namespaceId: string): ReadonlyMap<string, number> {
    return this.writes.get(namespaceId) ?? new Map();
  }

  /** Sets a value directly (e.g. an older fs:active), as if written earlier. */
  seed(namespaceId: string, key: string, value: string): void {
    this.namespace(namespaceId).set(key, value);
  }

  private namespace(id: string): Map<string, string> {
    let ns = this.namespaces.get(id);
    if (!ns) this.namespaces.set(id, (ns = new Map()));
    return ns;
  }

  private reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  private fail(res: ServerResponse, error: ApiError, headers: Record<string, string> = {}): void {
    this.rejections.push({ status: error.status, code: error.code, message: error.message });
    if (error.status !== 429 && error.status < 500) this.stats.rejected++;
    this.reply(res, error.status, { success: false, errors: [{ code: error.code, message: error.message }], messages: [], result: null }, headers);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname === '/__fake/stats') {
      // cpu_seconds: the fake's own CPU (it shares the machine with the backfill in benchmarks).
      const cpu = process.cpuUsage();
      this.reply(res, 200, {
        stats: this.stats,
        namespaces: Object.fromEntries([...this.namespaces].map(([id, ns]) => [id, ns.size])),
        active: this.activeSnapshots,
        cpu_seconds: Math.round((cpu.user + cpu.system) / 1e4) / 100,
      });
      return;
    }
    const prefix = `${this.basePath}/accounts/`;
    const match = url.pathname.startsWith(prefix) ? /^([^/]+)\/storage\/kv\/namespaces\/([^/]+)\/(bulk|values\/(.+))$/.exec(url.pathname.slice(prefix.length)) : null;
    if (!match) {
      await drain(req);
      this.fail(res, new ApiError(404, 7003, `Could not route to ${url.pathname}, perhaps your object identifier is invalid?`));
      return;
    }
    const namespaceId = decodeURIComponent(match[2]!);
    const auth = req.headers.authorization;
    if (!auth || !/^Bearer \S+$/.test(auth)) {
      await drain(req);
      this.fail(res, new ApiError(400, 6003, 'Invalid request headers: missing or malformed Authorization header (expected "Bearer <token>")'));
      return;
    }
    if (auth.slice(7) !== this.options.token) {
      await drain(req);
      this.fail(res, new ApiError(403, 10000, 'Authentication error'));
      return;
    }
    if (match[3] === 'bulk') {
      if (req.method !== 'PUT') {
        await drain(req);
        this.fail(res, new ApiError(405, 10405, `Method ${req.method} not allowed on bulk`));
        return;
      }
      await this.bulkWrite(req, res, namespaceId);
      return;
    }
    if (req.method !== 'GET') {
      await drain(req);
      this.fail(res, new ApiError(405, 10405, `Method ${req.method} not supported by this stand-in on values (only GET)`));
      return;
    }
    this.stats.readRequests++;
    if (this.options.faultReads && this.injectFault(req, res, false)) return;
    const key = decodeURIComponent(match[4]!);
    const value = this.namespaces.get(namespaceId)?.get(key);
    if (value === undefined) {
      this.fail(res, new ApiError(404, 10009, "get: 'key not found'"));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(value) });
    res.end(value);
  }

  /** Draws the fault for this request; true when it answered (or dropped) the request itself. */
  private injectFault(req: IncomingMessage, res: ServerResponse, hasBody: boolean): boolean {
    const r = this.random();
    let edge = this.options.rateDrop ?? 0;
    if (r < edge) {
      this.stats.dropped++;
      // Mid-request: wait for part of the body when there is one, then cut the connection.
      if (hasBody) req.once('data', () => req.socket.destroy());
      else req.socket.destroy();
      return true;
    }
    edge += this.options.rate429 ?? 0;
    if (r < edge) {
      this.stats.throttled++;
      void drain(req).then(() =>
        this.fail(res, new ApiError(429, 971, 'Please wait and consider throttling your request speed'), { 'retry-after': String(this.options.retryAfterSeconds ?? 1) }),
      );
      return true;
    }
    edge += this.options.rate5xx ?? 0;
    if (r < edge) {
      this.stats.serverErrors++;
      void drain(req).then(() => this.fail(res, new ApiError(503, 10013, 'Service temporarily unavailable')));
      return true;
    }
    return false;
  }

  private async bulkWrite(req: IncomingMessage, res: ServerResponse, namespaceId: string): Promise<void> {
    this.stats.writeRequests++;
    const length = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(length) && length > LIMITS.requestBytes) {
      req.resume();
      this.fail(res, new ApiError(413, 10011, `Request body is ${length} bytes; the bulk write takes at most ${LIMITS.requestBytes} bytes`), { connection: 'close' });
      return;
    }
    if (this.injectFault(req, res, true)) return;
    const type = req.headers['content-type'] ?? '';
    if (!type.toLowerCase().startsWith('application/json')) {
      await drain(req);
      this.fail(res, new ApiError(400, 10026, `Content-Type must be application/json, got "${type}"`));
      return;
    }
    const body = await readBody(req, LIMITS.requestBytes);
    if (body === undefined) {
      this.fail(res, new ApiError(413, 10011, `Request body exceeds ${LIMITS.requestBytes} bytes`), { connection: 'close' });
      return;
    }
    let pairs: { key: string; value: string; base64?: boolean }[];
    try {
      pairs = validateBulk(body);
    } catch (error) {
      if (error instanceof ApiError) {
        this.fail(res, error);
        return;
      }
      throw error;
    }
    // Some keys may be reported unsuccessful (and left unwritten), as the real API may.
    let unsuccessful: string[] = [];
    if (pairs.length > 0 && this.random() < (this.options.ratePartial ?? 0)) {
      this.stats.partial++;
      unsuccessful = pairs.filter((_, i) => i % 7 === 3 || pairs.length === 1).map((p) => p.key);
    }
    if (this.options.writeDelayMs) await new Promise((r) => setTimeout(r, this.options.writeDelayMs));
    if (res.destroyed) return; // the client went away while we waited: nothing stored
    const skip = new Set(unsuccessful);
    const ns = this.namespace(namespaceId);
    let counts = this.writes.get(namespaceId);
    if (!counts) this.writes.set(namespaceId, (counts = new Map()));
    for (const pair of pairs) {
      if (skip.has(pair.key)) continue;
      const value = pair.base64 ? Buffer.from(pair.value, 'base64').toString('utf8') : pair.value;
      ns.set(pair.key, value);
      counts.set(pair.key, (counts.get(pair.key) ?? 0) + 1);
      this.stats.pairsStored++;
      if (pair.key === 'fs:active') this.snapshotActive(ns, value);
    }
    this.stats.accepted++;
    this.reply(res, 200, { success: true, errors: [], messages: [], result: { successful_key_count: pairs.length - unsuccessful.length, unsuccessful_keys: unsuccessful } });
  }

  private snapshotActive(ns: Map<string, string>, value: string): void {
    let version = '';
    try {
      version = String((JSON.parse(value) as { version?: unknown }).version ?? '');
    } catch {
      // not JSON: counts as naming no version
    }
    const prefix = versionPrefix(version);
    let versionKeys = 0;
    if (version) for (const key of ns.keys()) if (key.startsWith(prefix)) versionKeys++;
    this.activeSnapshots.push({ value, versionKeys });
  }
}

async function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded) return;
  req.resume();
  await new Promise<void>((resolve) => {
    req.once('end', resolve);
    req.once('close', resolve);
  });
}

/** The body as text, or undefined when it passes `limit` bytes. */
async function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

function validateBulk(body: string): { key: string; value: string; base64?: boolean }[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    throw new ApiError(400, 10014, `Could not parse request body as JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!Array.isArray(parsed)) throw new ApiError(400, 10014, 'Request body must be a JSON array of {key, value} objects');
  if (parsed.length > LIMITS.pairsPerRequest) throw new ApiError(400, 10012, `Too many pairs: ${parsed.length}; the bulk write takes at most ${LIMITS.pairsPerRequest}`);
  parsed.forEach((pair: unknown, i: number) => {
    if (typeof pair !== 'object' || pair === null || Array.isArray(pair)) throw new ApiError(400, 10014, `[${i}]: expected an object with key and value`);
    const p = pair as Record<string, unknown>;
    if (typeof p.key !== 'string') throw new ApiError(400, 10014, `[${i}].key: must be a string`);
    if (typeof p.value !== 'string') throw new ApiError(400, 10014, `[${i}].value: must be a string`);
    const keyBytes = Buffer.byteLength(p.key);
    if (keyBytes === 0 || p.key === '.' || p.key === '..') throw new ApiError(400, 10019, `[${i}].key: "${p.key}" is not a valid key name`);
    if (keyBytes > LIMITS.keyBytes) throw new ApiError(414, 10019, `[${i}].key: ${keyBytes} bytes; keys are at most ${LIMITS.keyBytes} bytes`);
    const valueBytes = p.base64 === true ? Buffer.from(p.value, 'base64').length : Buffer.byteLength(p.value);
    if (valueBytes > LIMITS.valueBytes) throw new ApiError(413, 10011, `[${i}].value: ${valueBytes} bytes; values are at most ${LIMITS.valueBytes} bytes`);
    for (const field of ['expiration', 'expiration_ttl'] as const) {
      if (p[field] !== undefined && (typeof p[field] !== 'number' || !Number.isInteger(p[field]))) throw new ApiError(400, 10014, `[${i}].${field}: must be an integer`);
    }
    if (p.base64 !== undefined && typeof p.base64 !== 'boolean') throw new ApiError(400, 10014, `[${i}].base64: must be a boolean`);
  });
  return parsed as { key: string; value: string; base64?: boolean }[];
}

// ---------------------------------------------------------------------------------------------
// CLI

async function cli(): Promise<void> {
  const { Command } = await import('commander');
  const rate = (v: string) => {
    const n = Number(v);
    if (!(n >= 0 && n <= 1)) throw new Error(`rates are from 0 to 1, got ${v}`);
    return n;
  };
  const options = new Command()
    .name('fake-kv-api')
    .description('A loopback stand-in for the Cloudflare Workers KV REST API (bulk write, read) with fault injection. Token from CLOUDFLARE_API_TOKEN.')
    .option('--port <n>', 'port on 127.0.0.1 (0: any free port)', Number, 0)
    .option('--rate-429 <p>', 'fraction of writes answered 429', rate, 0)
    .option('--retry-after <s>', 'Retry-After seconds on a 429', Number, 1)
    .option('--rate-5xx <p>', 'fraction of writes answered 503', rate, 0)
    .option('--rate-drop <p>', 'fraction of writes whose connection is dropped mid-request', rate, 0)
    .option('--rate-partial <p>', 'fraction of writes reporting some keys unsuccessful', rate, 0)
    .option('--seed <n>', 'fault sequence seed', Number, 1)
    .parse()
    .opts<{ port: number; rate429: number; retryAfter: number; rate5xx: number; rateDrop: number; ratePartial: number; seed: number }>();
  const token = process.env.CLOUDFLARE_API_TOKEN;
  if (!token) throw new Error('set CLOUDFLARE_API_TOKEN: the token the fake API accepts');
  const api = new FakeKvApi({
    token,
    port: options.port,
    rate429: options.rate429,
    retryAfterSeconds: options.retryAfter,
    rate5xx: options.rate5xx,
    rateDrop: options.rateDrop,
    ratePartial: options.ratePartial,
    seed: options.seed,
  });
  const base = await api.start();
  console.log(JSON.stringify({ api_base: base, pid: process.pid }));
  const stop = () => void api.stop().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  cli().catch((error: unknown) => {
    console.error(`fake-kv-api: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
