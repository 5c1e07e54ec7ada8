// Property-based fuzzing of POST /v1/rank inside workerd (fast-check, fixed seeds, bounded runs):
// arbitrary JSON, valid requests with one hostile mutation (wrong types, huge or non-finite numbers,
// NaN-like strings, deep nesting, long strings, too many items or fields, duplicate ids, prototype
// keys), raw text and bytes, and arbitrary headers and content types. Every response must be
// < 500, arrive within a generous hang guard, be JSON, and - for a 4xx - name the offending field:
// `path` set and quoted in the message, or a message about the body or the content-type as a whole.
import { env } from 'cloudflare:workers';
import fc from 'fast-check';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../worker/app.ts';
import { bundledModels } from '../../worker/model/bundled-models.ts';
import { ModelRegistry } from '../../worker/model/registry.ts';
import { fixtureAndModel } from './helpers.ts';

const fixture = inject('rankFixture');
// An app of its own: its fallback counters are not the default export's (rank.test.ts checks those).
const registry = new ModelRegistry(bundledModels);
const app = createApp(() => registry);

const HANG_GUARD_MS = 5_000;
const FALLBACKS = new Set([null, 'kv_error', 'kv_timeout', 'model_error']);

interface Sent {
  body: string | Uint8Array;
  headers: Record<string, string>;
}

interface Outcome {
  status: number;
  json: any;
  ms: number;
}

async function send({ body, headers }: Sent): Promise<Outcome> {
  const started = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${HANG_GUARD_MS} ms`)), HANG_GUARD_MS);
  });
  try {
    const res = await Promise.race([app.request('http://worker.test/v1/rank', { method: 'POST', headers, body }, env), guard]);
    const text = await Promise.race([res.text(), guard]);
    expect(res.headers.get('content-type') ?? '').toMatch(/^application\/json/);
    return { status: res.status, json: JSON.parse(text), ms: Date.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

/** The contract every response keeps, whatever was sent. */
function checkContract(sent: Sent, out: Outcome): void {
  expect(out.status, JSON.stringify(out.json).slice(0, 300)).toBeLessThan(500);
  if (out.status === 200) {
    expect(Array.isArray(out.json.items)).toBe(true);
    expect(FALLBACKS.has(out.json.fallback)).toBe(true);
    const ids = new Set(JSON.parse(typeof sent.body === 'string' ? sent.body : new TextDecoder().decode(sent.body)).items.map((i: { id: string }) => i.id));
    for (const item of out.json.items) {
      expect(ids.has(item.id)).toBe(true);
      expect(Number.isFinite(item.score)).toBe(true);
    }
    return;
  }
  expect(out.status).toBeGreaterThanOrEqual(400);
  const error = out.json.error;
  expect(typeof error.code).toBe('string');
  expect(typeof error.message).toBe('string');
  const namesField = (typeof error.path === 'string' && error.path !== '' && error.message.includes(error.path)) || /^(body|content-type)\b/.test(error.message);
  expect(namesField, `error does not name its field: ${JSON.stringify(error)}`).toBe(true);
  // an error quotes the client's input only in part: a hostile body cannot make it large
  expect(JSON.stringify(out.json).length).toBeLessThan(1_000);
}

// Values JSON.stringify cannot write: spliced into the text after stringifying.
const RAW: Record<string, string> = {
  '\u0001inf': '1e999',
  '\u0001neginf': '-1e999',
  '\u0001nan': 'NaN',
  '\u0001deep-array': `${'['.repeat(5_000)}${']'.repeat(5_000)}`,
  '\u0001deep-object': `${'{"a":'.repeat(2_000)}1${'}'.repeat(2_000)}`,
  '\u0001lone-surrogate': '"\\ud800x"',
  '\u0001proto': '{"__proto__": {"polluted": 1}, "id": "proto-item"}',
};

function render(value: unknown): string {
  let text = JSON.stringify(value);
  for (const [token, raw] of Object.entries(RAW)) text = text.split(JSON.stringify(token)).join(raw);
  return text;
}

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(null, true, false, 0, -0, -1, 1.5, 1e308, -1e308, 5e-324, 2 ** 53, -(2 ** 53) - 2, 501, 1e9 + 1, 1e12 + 1, 8.64e15 + 1),
  fc.constantFrom<unknown>('', ' ', 'NaN', 'Infinity', '-Infinity', '1e999', '0x10', 'null', '\u0000', '𝔘nicode', '<script>alert(1)</script>', '__proto__', 'constructor', '2026-13-45T99:99:99Z'),
  fc.constantFrom<unknown>(...Object.keys(RAW)),
  fc.constantFrom<unknown>('x'.repeat(129), 'y'.repeat(257), 'z'.repeat(20_000)),
  fc.string({ maxLength: 40 }),
  fc.double(),
  fc.integer(),
  fc.jsonValue({ maxDepth: 3 }),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 5 }),
);

/** A valid request (with rules) to mutate. */
function baseRequest(): Record<string, any> {
  const items = fixture.request.items.slice(0, 12).map((item, i) => ({ ...item, ...(i % 3 === 0 ? { price: 10 + i, color: 'red', in_stock: true } : {}) }));
  return {
    request_id: 'fuzz-1',
    user_id: fixture.request.user_id,
    context: { device: 'mobile', page: 'search', time: '2026-03-02T10:00:00Z', locale: 'de-DE' },
    items,
    k: 5,
    explain: true,
    rules: {
      filter: [{ field: 'color', op: 'ne', value: 'blue' }],
      boost: [{ ids: [items[1]!.id], factor: 2 }, { field: 'price', op: 'gt', value: 12, factor: 1.5 }],
      pin: [{ id: items[2]!.id, position: 1 }],
      diversity: { field: 'category', max: 3 },
      dedupe: { field: 'brand' },
    },
  };
}

/** Every path into a value, as property lists. */
function paths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}

const BASE = baseRequest();
const BASE_PATHS = paths(BASE).filter((p) => p.length > 0);

function setAt(target: any, path: Array<string | number>, value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) node = node[key];
  node[path[path.length - 1]!] = value;
}

type Mutation = { kind: 'set'; path: Array<string | number>; value: unknown } | { kind: 'add'; path: Array<string | number>; key: string; value: unknown } | { kind: 'items'; count: number } | { kind: 'fields'; count: number } | { kind: 'duplicate'; from: number; to: number } | { kind: 'unknown'; count: number; length: number };

const objectPaths = paths(BASE).filter((p) => {
  let node: any = BASE;
  for (const key of p) node = node[key];
  return node !== null && typeof node === 'object' && !Array.isArray(node);
});

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('set' as const), path: fc.constantFrom(...BASE_PATHS), value: hostileValue }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('add' as const), path: fc.constantFrom(...objectPaths), key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'items', 'id', 'y'.repeat(300))), value: hostileValue }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('items' as const), count: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 495, max: 520 }), fc.integer({ min: 1_000, max: 3_000 })) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fields' as const), count: fc.integer({ min: 30, max: 200 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unknown' as const), count: fc.integer({ min: 1, max: 5_000 }), length: fc.integer({ min: 1, max: 100 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), from: fc.integer({ min: 0, max: 11 }), to: fc.integer({ min: 0, max: 11 }) }) },
);

function mutate(m: Mutation): Record<string, any> {
  const body = structuredClone(BASE);
  switch (m.kind) {
    case 'set':
      setAt(body, m.path, m.value);
      break;
    case 'add': {
      let node = body;
      for (const key of m.path) node = node[key];
      // defineProperty: a '__proto__' key becomes an own property, as JSON.parse would make it
      Object.defineProperty(node, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
      break;
    }
    case 'items':
      body.items = Array.from({ length: m.count }, (_, i) => ({ id: `fz-${i}` }));
      delete body.rules;
      break;
    case 'fields':
      body.items[0] = Object.fromEntries([['id', body.items[0].id], ...Array.from({ length: m.count }, (_, i) => [`f${i}`, i])]);
      break;
    case 'duplicate':
      body.items[m.to].id = body.items[m.from].id;
      break;
    case 'unknown':
      // unknown top-level fields: many, with long names
      for (let i = 0; i < m.count; i++) body[`${'u'.repeat(m.length)}${i}`] = i;
      break;
  }
  return body;
}

const printable = (maxLength: number) => fc.string({ unit: 'grapheme-ascii', maxLength });

const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/vnd.api+json', 'application/problem+json') },
  { weight: 2, arbitrary: fc.constantFrom('', 'text/plain', 'application/jsonx', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'json', 'application/', '*/*') },
  { weight: 1, arbitrary: printable(80) },
);

const extraHeaders = fc.record(
  {
    'x-client-id': fc.oneof(printable(40), printable(300)),
    'x-experiment-arm': fc.oneof(fc.constantFrom('default', 'ghost'), printable(100)),
    'x-experiment-token': fc.oneof(fc.constant('test-override-token'), printable(60)),
    authorization: fc.oneof(fc.constantFrom('Bearer test-admin-token', 'Bearer', 'Basic abc'), printable(80)),
    'x-request-id': printable(200),
  },
  { requiredKeys: [] },
);

beforeAll(fixtureAndModel(fixture.kv, registry), 120_000);

describe('fuzzing POST /v1/rank', () => {
  it('sanity: the unmutated base request is served', async () => {
    const out = await send({ body: render(BASE), headers: { 'content-type': 'application/json' } });
    expect(out.status).toBe(200);
    expect(out.json.fallback).toBeNull();
  });

  it('arbitrary JSON bodies: never a 5xx or a hang; every error names its field', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 5 }), async (value) => {
        const sent = { body: JSON.stringify(value) ?? 'null', headers: { 'content-type': 'application/json' } };
        checkContract(sent, await send(sent));
      }),
      { seed: 20260601, numRuns: 150 },
    );
  });

  it('valid requests with one hostile mutation: never a 5xx; a 400 names the mutated field (or the duplicate it made)', async () => {
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const sent = { body: render(mutate(m)), headers: { 'content-type': 'application/json' } };
        const out = await send(sent);
        checkContract(sent, out);
        if (out.status === 400 && out.json.error.code === 'invalid_request' && (m.kind === 'set' || m.kind === 'add')) {
          const mutated = m.kind === 'add' ? [...m.path, m.key] : m.path;
          const where = formatPath(mutated);
          const path: string = out.json.error.path ?? '';
          // the error sits on the mutated field, inside it, or on an ancestor that could not hold it;
          // changing an id can instead surface at a duplicate or at a pin that named it
          const related = path === '' || where.startsWith(path) || path.startsWith(where) || /duplicate id|not among the items|unknown field/.test(out.json.error.message);
          expect(related, `mutated ${where}, error at ${path}: ${out.json.error.message}`).toBe(true);
        }
      }),
      { seed: 20260602, numRuns: 350 },
    );
  });

  it('raw text, bytes and hostile headers: never a 5xx or a hang', async () => {
    const rawBody = fc.oneof(
      fc.constantFrom('', ' ', '{', '[]', 'null', '"items"', '1', '{"items":', '\uFEFF{"items":[{"id":"a"}]}', '{"items":[{"id":"a"}]}garbage', '{"items":[{"id":"a","id":"b"}]}', '{"items":[{"id":"a"}],"items":[]}'),
      fc.string({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 200 }),
      mutation.map((m) => render(mutate(m))),
    );
    await fc.assert(
      fc.asyncProperty(rawBody, contentType, extraHeaders, async (body, type, headers) => {
        const sent: Sent = { body, headers: { ...headers, ...(type ? { 'content-type': type } : {}) } };
        const out = await send(sent);
        expect(out.status).toBeLessThan(500);
        if (out.status >= 400) {
          const error = out.json.error;
          expect(typeof error.message).toBe('string');
          const namesField = (typeof error.path === 'string' && error.message.includes(error.path)) || /^(body|content-type)\b/.test(error.message);
          expect(namesField, JSON.stringify(error)).toBe(true);
        }
      }),
      { seed: 20260603, numRuns: 200 },
    );
  });

  it('limits found by fuzzing: long field names and many unknown fields give a short error naming the field', async () => {
    const longName = { ...BASE, items: [{ id: 'a', ['n'.repeat(5_000)]: 1 }] };
    let out = await send({ body: render(longName), headers: { 'content-type': 'application/json' } });
    expect(out.status).toBe(400);
    expect(out.json.error.path).toBe(`items[0].${'n'.repeat(32)}...`);
    expect(out.json.error.message).toMatch(/field names must be at most 64 characters/);
    const context = { ...BASE, context: { ['c'.repeat(65)]: 'x' } };
    out = await send({ body: render(context), headers: { 'content-type': 'application/json' } });
    expect(out.json.error.path).toMatch(/^context\.c+\.\.\.$/);
    const unknown = { ...BASE, ...Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`${'k'.repeat(100)}${i}`, i])) };
    out = await send({ body: render(unknown), headers: { 'content-type': 'application/json' } });
    expect(out.status).toBe(400);
    expect(out.json.error.message).toMatch(/unknown field\(s\) .* and 1995 more$/);
    expect(out.json.error.message.length).toBeLessThan(400);
  });

  it('an oversized body is refused before it is parsed (413), with or without a content-length', async () => {
    const huge = `{"items":[{"id":"a","note":"${'x'.repeat(600 * 1024)}"}]}`;
    const out = await send({ body: huge, headers: { 'content-type': 'application/json' } });
    expect(out.status).toBe(413);
  });
});

function formatPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`;
  return out;
}
