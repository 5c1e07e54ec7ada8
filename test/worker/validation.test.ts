// One test per kind of bad input: each is a 4xx whose JSON body names the problem.
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { rank, type ErrorResponseBody } from './helpers.ts';

async function expectError(res: Response, status: number, code: string, path?: string, message?: RegExp): Promise<ErrorResponseBody> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  const body = (await res.json()) as ErrorResponseBody;
  expect(body.error.code).toBe(code);
  if (path !== undefined) expect(body.error.path).toBe(path);
  if (message) expect(body.error.message).toMatch(message);
  return body;
}

const items = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `item-${i}` }));

describe('bad rank requests', () => {
  it('rejects an empty item list', async () => {
    await expectError(await rank({ items: [] }), 400, 'invalid_request', 'items', /at least 1 item/);
  });

  it('rejects a missing item list', async () => {
    await expectError(await rank({ user_id: 'u1' }), 400, 'invalid_request', 'items');
  });

  it('rejects more than 500 items', async () => {
    await expectError(await rank({ items: items(501) }), 400, 'invalid_request', 'items', /at most 500 items/);
  });

  it('accepts exactly 500 items', async () => {
    expect((await rank({ items: items(500) })).status).toBe(200);
  });

  it('rejects duplicate ids and names both positions', async () => {
    await expectError(await rank({ items: [{ id: 'a' }, { id: 'b' }, { id: 'a' }] }), 400, 'invalid_request', 'items[2].id', /duplicate id 'a' \(first at items\[0\]\)/);
  });

  it('rejects wrong types and names the field', async () => {
    await expectError(await rank({ items: [{ id: 42 }] }), 400, 'invalid_request', 'items[0].id', /string/);
    await expectError(await rank({ user_id: 7, items: items(1) }), 400, 'invalid_request', 'user_id');
    await expectError(await rank({ items: [{ id: 'a', price: '12' }] }), 400, 'invalid_request', 'items[0].price');
    await expectError(await rank({ items: [{ id: 'a', price: -1 }] }), 400, 'invalid_request', 'items[0].price', />= 0/);
    await expectError(await rank({ items: items(3), k: 0 }), 400, 'invalid_request', 'k');
    await expectError(await rank({ items: items(3), k: 1.5 }), 400, 'invalid_request', 'k');
    await expectError(await rank({ items: items(1), context: { time: 'yesterday' } }), 400, 'invalid_request', 'context.time');
    await expectError(await rank({ items: [{ id: 'a', nested: { x: 1 } }] }), 400, 'invalid_request', 'items[0].nested');
    await expectError(await rank({ items: 'a,b' }), 400, 'invalid_request', 'items');
    await expectError(await rank([{ id: 'a' }]), 400, 'invalid_request', undefined, /JSON object/);
  });

  it('rejects unknown top-level fields', async () => {
    await expectError(await rank({ items: items(1), itemz: [] }), 400, 'invalid_request', undefined, /unknown field\(s\) 'itemz'/);
  });

  it('rejects ids that are empty or too long', async () => {
    await expectError(await rank({ items: [{ id: '' }] }), 400, 'invalid_request', 'items[0].id', /empty/);
    await expectError(await rank({ items: [{ id: 'x'.repeat(129) }] }), 400, 'invalid_request', 'items[0].id', /at most 128/);
  });

  it('rejects a body that is not JSON', async () => {
    await expectError(await rank('{"items": [{"id": "a"}'), 400, 'invalid_json', undefined, /not valid JSON/);
    await expectError(await rank(''), 400, 'invalid_json', undefined, /empty/);
  });

  it('rejects a body with the wrong content type', async () => {
    await expectError(await rank({ items: items(1) }, { headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type', undefined, /application\/json/);
  });

  it('rejects an oversized body', async () => {
    const huge = JSON.stringify({ items: [{ id: 'a', note: 'x'.repeat(200) }], padding: 'y'.repeat(600 * 1024) });
    await expectError(await rank(huge), 413, 'payload_too_large', undefined, /exceeds the limit of 524288 bytes/);
  });

  it('rejects an oversized chunked body without a content-length', async () => {
    const chunk = new TextEncoder().encode(' '.repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 10) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await exports.default.fetch('http://worker.test/v1/rank', { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit);
    await expectError(res, 413, 'payload_too_large');
  });

  it('answers unknown routes and methods with JSON errors', async () => {
    await expectError(await exports.default.fetch('http://worker.test/v2/rank'), 404, 'not_found', undefined, /no route for GET \/v2\/rank/);
    await expectError(await exports.default.fetch('http://worker.test/v1/rank'), 405, 'method_not_allowed', undefined, /POST/);
  });
});
