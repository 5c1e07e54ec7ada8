// Reads a JSON request body: enforces the content type and a byte limit before parsing, so an
// oversized or non-JSON body is a clear 4xx rather than wasted CPU or a 500.
import type { Context } from 'hono';
import { ApiError } from './errors.ts';

export const MAX_BODY_BYTES = 512 * 1024;

export async function readJsonBody(c: Context, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type.trim())) {
    throw new ApiError(415, 'unsupported_media_type', `content-type must be application/json, got ${type ? `'${type.slice(0, 100)}'` : 'none'}`);
  }
  const declared = c.req.header('content-length');
  if (declared !== undefined && Number(declared) > maxBytes) {
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
      await reader.cancel();
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
