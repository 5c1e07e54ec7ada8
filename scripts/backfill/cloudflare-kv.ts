// A Cloudflare Workers KV namespace through the REST API (plain HTTPS requests, so the retry policy is
// ours; node:http(s) rather than fetch so a request body is the batch's Buffer as built, not a copy):
//   PUT  {api}/accounts/{account}/storage/kv/namespaces/{namespace}/bulk   JSON [{key, value}], <= 10,000 pairs, <= 100 MB
//   GET  {api}/accounts/{account}/storage/kv/namespaces/{namespace}/values/{key}
// with `Authorization: Bearer <token>`. Responses are Cloudflare's envelope
// {success, errors: [{code, message}], messages, result}; a bulk write's result is
// {successful_key_count, unsuccessful_keys} and unsuccessful keys are to be retried.
//
// Retries: 429 (after Retry-After when given, never sooner), 5xx, dropped connections and
// timeouts, with exponential backoff and full jitter. Other 4xx fail at once with the API's errors.
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { subsetBody, type KvTarget, type WireBatch } from './kv-target.ts';

export const DEFAULT_API_BASE = 'https://api.cloudflare.com/client/v4';

export interface RemoteKvOptions {
  accountId: string;
  namespaceId: string;
  token: string;
  apiBase?: string;
  /** attempts per request beyond the first */
  maxRetries?: number;
  /** first backoff step; doubles per attempt up to maxBackoffMs */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** per-request timeout */
  timeoutMs?: number;
  /** injectable for tests */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** told about every retry */
  onRetry?: (info: RetryInfo) => void;
}

export interface RetryInfo {
  what: string;
  attempt: number;
  reason: string;
  delayMs: number;
}

export interface RemoteKvStats {
  requests: number;
  retries: number;
  throttled: number;
  networkErrors: number;
  serverErrors: number;
  partialRetries: number;
}

export class KvApiError extends Error {
  override name = 'KvApiError';
  constructor(
    message: string,
    readonly status: number,
    readonly errors: { code: number; message: string }[] = [],
  ) {
    super(message);
  }
}

const sleepMs = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface HttpResponse {
  status: number;
  statusText: string;
  headers: IncomingHttpHeaders;
  body: string;
}

class NetworkError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** One HTTP(S) request with a keep-alive agent; network failures and timeouts reject with NetworkError. */
function sendHttp(url: URL, agent: HttpAgent, init: { method: string; headers: Record<string, string>; body?: Buffer }, timeoutMs: number): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
      url,
      { method: init.method, headers: { ...init.headers, ...(init.body ? { 'content-length': String(init.body.length) } : {}) }, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (error: NodeJS.ErrnoException) => reject(new NetworkError(`response interrupted: ${error.message}`, error.code)));
      },
    );
    request.setTimeout(timeoutMs, () => request.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    request.on('error', (error: NodeJS.ErrnoException) => reject(new NetworkError(error.message, error.code)));
    request.end(init.body);
  });
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

interface Envelope {
  success?: boolean;
  errors?: { code: number; message: string }[];
  result?: unknown;
}

function readEnvelope(res: HttpResponse): Envelope | undefined {
  try {
    return JSON.parse(res.body) as Envelope;
  } catch {
    return undefined;
  }
}

function apiErrorText(envelope: Envelope | undefined): string {
  const errors = envelope?.errors ?? [];
  return errors.length > 0 ? errors.map((e) => `[${e.code}] ${e.message}`).join('; ') : 'no error details';
}

export function openRemoteKv(options: RemoteKvOptions): KvTarget & { readonly stats: RemoteKvStats } {
  if (!options.token) throw new Error('CLOUDFLARE_API_TOKEN is not set: the remote backfill needs an API token with Workers KV Storage Edit permission, from the environment (never a flag)');
  if (!options.accountId) throw new Error('--account-id is required with --remote');
  if (!options.namespaceId) throw new Error('--namespace-id is required with --remote');
  const base = (options.apiBase ?? DEFAULT_API_BASE).replace(/\/+$/, '');
  const ns = `${base}/accounts/${encodeURIComponent(options.accountId)}/storage/kv/namespaces/${encodeURIComponent(options.namespaceId)}`;
  const maxRetries = options.maxRetries ?? 8;
  const baseBackoff = options.baseBackoffMs ?? 250;
  const maxBackoff = options.maxBackoffMs ?? 30_000;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const sleep = options.sleep ?? sleepMs;
  const random = options.random ?? Math.random;
  const auth = `Bearer ${options.token}`;
  const stats: RemoteKvStats = { requests: 0, retries: 0, throttled: 0, networkErrors: 0, serverErrors: 0, partialRetries: 0 };
  const agent = new (base.startsWith('https:') ? HttpsAgent : HttpAgent)({ keepAlive: true, maxSockets: 64 });

  /** Full jitter: uniform in [0, min(max, base * 2^attempt)]. */
  const backoff = (attempt: number) => random() * Math.min(maxBackoff, baseBackoff * 2 ** attempt);

  /**
   * Sends a request until it gets a final answer: returns a 2xx or a 404 (read misses), throws
   * KvApiError for other 4xx or when retries run out.
   */
  async function send(what: string, url: URL, init: { method: string; headers: Record<string, string>; body?: Buffer }): Promise<HttpResponse> {
    for (let attempt = 0; ; attempt++) {
      let reason: string;
      let wait: number | undefined;
      stats.requests++;
      try {
        const res = await sendHttp(url, agent, init, timeoutMs);
        if ((res.status >= 200 && res.status < 300) || res.status === 404) return res;
        const envelope = readEnvelope(res);
        if (res.status === 429) {
          stats.throttled++;
          reason = '429 Too Many Requests';
          const header = res.headers['retry-after'];
          const after = retryAfterMs(typeof header === 'string' ? header : null);
          // Honour Retry-After (never earlier), with a little jitter so parallel requests spread out.
          if (after !== undefined) wait = after + random() * Math.min(1000, baseBackoff);
        } else if (res.status >= 500) {
          stats.serverErrors++;
          reason = `${res.status} ${apiErrorText(envelope)}`;
        } else {
          throw new KvApiError(`Cloudflare KV API: ${what} -> ${res.status} ${res.statusText}: ${apiErrorText(envelope)}`, res.status, envelope?.errors ?? []);
        }
      } catch (error) {
        if (!(error instanceof NetworkError)) throw error;
        stats.networkErrors++;
        reason = `${error.message}${error.code ? ` (${error.code})` : ''}`;
      }
      if (attempt >= maxRetries) throw new KvApiError(`Cloudflare KV API: ${what} failed after ${attempt + 1} attempts; last: ${reason}`, 0);
      const delayMs = wait ?? backoff(attempt);
      stats.retries++;
      options.onRetry?.({ what, attempt: attempt + 1, reason, delayMs });
      await sleep(delayMs);
    }
  }

  const bulkUrl = new URL(`${ns}/bulk`);
  async function bulkPut(batch: WireBatch): Promise<void> {
    let keys = batch.keys;
    let body = batch.body;
    for (let round = 0; ; round++) {
      const res = await send(`PUT bulk (${keys.length} pairs)`, bulkUrl, { method: 'PUT', headers: { authorization: auth, 'content-type': 'application/json' }, body });
      const envelope = readEnvelope(res);
      if (res.status === 404) throw new KvApiError(`Cloudflare KV API: PUT bulk -> 404: ${apiErrorText(envelope)} (are --account-id and --namespace-id right?)`, 404, envelope?.errors ?? []);
      if (!envelope || envelope.success !== true) throw new KvApiError(`Cloudflare KV API: PUT bulk -> ${res.status} but success is not true: ${apiErrorText(envelope)}`, res.status, envelope?.errors ?? []);
      const result = envelope.result as { successful_key_count?: number; unsuccessful_keys?: string[] } | null | undefined;
      const failed = new Set(result?.unsuccessful_keys ?? []);
      if (failed.size === 0) return;
      // Only the keys that did not reach every storage backend go again.
      if (round >= maxRetries) throw new KvApiError(`Cloudflare KV API: ${failed.size} keys still unsuccessful after ${round + 1} bulk writes (e.g. ${[...failed][0]})`, res.status);
      stats.partialRetries++;
      const indexes: number[] = [];
      batch.keys.forEach((key, i) => {
        if (failed.has(key)) indexes.push(i);
      });
      keys = indexes.map((i) => batch.keys[i]!);
      body = subsetBody(batch, indexes);
      const delayMs = backoff(round);
      stats.retries++;
      options.onRetry?.({ what: 'PUT bulk', attempt: round + 1, reason: `${failed.size} unsuccessful keys`, delayMs });
      await sleep(delayMs);
    }
  }

  return {
    description: `Cloudflare KV namespace ${options.namespaceId} (account ${options.accountId}) via ${base}`,
    maxPairs: 10_000,
    stats,
    putBatch: bulkPut,
    put: (key, value) => {
      const piece = JSON.stringify({ key, value });
      const body = Buffer.from(`[${piece}]`);
      return bulkPut({ keys: [key], body, ends: [body.length - 1], buffer: body });
    },
    async get(key) {
      const res = await send(`GET ${key}`, new URL(`${ns}/values/${encodeURIComponent(key)}`), { method: 'GET', headers: { authorization: auth } });
      return res.status === 404 ? null : res.body;
    },
    close: async () => agent.destroy(),
  };
}
