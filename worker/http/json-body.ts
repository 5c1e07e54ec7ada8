// Reads a JSON request body: enforces the content type and a byte limit before parsing, so an
// oversized or non-JSON body is a clear 4xx rather than wasted CPU or a 500.
import type { Context } from 'hono';
import { ApiError } from './errors.ts';

export const MAX_BODY_BYTES = 512 * 1024;
/**
 * How much of a refused body is still read (and thrown away) before answering. workerd closes a
 * keep-alive connection whose request body was left unread, and a client's next request on it races
 * that close and gets a reset; reading a bounded rest keeps the connection usable for ordinary
 * mistakes (a wrong content type, a body somewhat over the limit) without reading a flood.
 */
export const DRAIN_LIMIT_BYTES = 4 * MAX_BODY_BYTES;

export async function readJsonBody(c: Context, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type.trim())) {
    await drain(c.req.raw);
    throw new ApiError(415, 'unsupported_media_type', `content-type must be application/json, got ${type ? `'${type.slice(0, 100)}'` : 'none'}`);
  }
  const declared = c.req.header('content-length');
  if (declared !== undefined && Number(declared) > maxBytes) {
    if (Number(declared) <= DRAIN_LIMIT_BYTES) await drain(c.req.raw);
    throw new ApiError(413, 'payload_too_large', `body of ${declared} bytes exceeds the limit of ${maxBytes} bytes`);
  }
  // With a declared length within the limit, HTTP framing bounds the body: read it in one call.
  const text = declared !== undefined && /^\d+$/.test(declared) ? await readTextWhole(c.req.raw, maxBytes) : await readTextLimited(c.req.raw, maxBytes);
  if (text.trim() === '') throw new ApiError(400, 'invalid_json', 'body is empty; expected a JSON object');
  try {
    return JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ApiError(400, 'invalid_json', `body is not valid JSON: ${detail.slice(0, 200)}`);
  }
}

async function readTextWhole(request: Request, maxBytes: number): Promise<string> {
  if (!request.body) return '';
  const bytes = new Uint8Array(await request.arrayBuffer());
  // Over HTTP the length matches the header; a Request built in-process need not.
  if (bytes.byteLength > maxBytes) throw new ApiError(413, 'payload_too_large', `body exceeds the limit of ${maxBytes} bytes`);
  return decodeUtf8(bytes);
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new ApiError(400, 'invalid_json', 'body is not valid UTF-8');
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Streams the body and stops as soon as it passes the limit (chunked bodies have no length). */
async function readTextLimited(request: Request, maxBytes: number): Promise<string> {
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await drainReader(reader, DRAIN_LIMIT_BYTES - size);
      throw new ApiError(413, 'payload_too_large', `body exceeds the limit of ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return decodeUtf8(chunks[0]!);
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return decodeUtf8(bytes);
}

/** Reads and discards the rest of a body, at most DRAIN_LIMIT_BYTES, then lets go of it. */
async function drain(request: Request): Promise<void> {
  if (!request.body || request.bodyUsed) return;
  await drainReader(request.body.getReader(), DRAIN_LIMIT_BYTES);
}

async function drainReader(reader: ReadableStreamDefaultReader<Uint8Array>, budget: number): Promise<void> {
  try {
    let left = budget;
    while (left > 0) {
      const { done, value } = await reader.read();
      if (done) return;
      left -= value.byteLength;
    }
    await reader.cancel();
  } catch {
    // a client that went away mid-body: nothing left to keep usable
  }
}
