// Reads (and clears) the exposure log of a local worker: the `log:*` keys its KvSink wrote into the
// FEATURES namespace of Miniflare's persisted state (what `wrangler dev --persist-to <dir>` keeps
// in <dir>/v3). A tiny worker inside Miniflare lists and bulk-reads the keys next to the data: one
// round trip per 1,000 rows. Run it while the worker is stopped, or accept that rows written
// during the export may be missed.
import { localKvMiniflare, type LocalKvOptions } from '../backfill/kv-target.ts';

const READER_WORKER = `
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const prefix = url.searchParams.get('prefix') || 'log:';
    if (url.pathname === '/list') {
      const cursor = url.searchParams.get('cursor') || undefined;
      const page = await env.KV.list({ prefix, cursor, limit: 1000 });
      const names = page.keys.map((k) => k.name);
      const values = [];
      for (let i = 0; i < names.length; i += 100) {
        const chunk = names.slice(i, i + 100);
        const got = await env.KV.get(chunk, 'text');
        for (const name of chunk) values.push([name, got.get(name)]);
      }
      return Response.json({ values, cursor: page.list_complete ? null : page.cursor });
    }
    if (url.pathname === '/delete' && request.method === 'POST') {
      const names = await request.json();
      await Promise.all(names.map((name) => env.KV.delete(name)));
      return new Response(String(names.length));
    }
    return new Response('not found', { status: 404 });
  },
};`;

export interface LocalLog {
  description: string;
  /** every row's key and JSON text, in key (= time) order */
  rows(prefix?: string): AsyncGenerator<{ key: string; text: string }>;
  delete(keys: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens the local KV of `configPath`'s FEATURES binding under `persistPath` (a directory holding
 * Miniflare's v3 state: `<wrangler dev --persist-to>/v3`, or `.wrangler/state/v3` for a plain
 * `wrangler dev` / `npm start`).
 */
export async function openLocalLog(options: LocalKvOptions): Promise<LocalLog> {
  const { mf, description } = await localKvMiniflare(options, READER_WORKER);
  return {
    description,
    async *rows(prefix = 'log:') {
      let cursor: string | null = null;
      do {
        const url = new URL('http://reader.local/list');
        url.searchParams.set('prefix', prefix);
        if (cursor) url.searchParams.set('cursor', cursor);
        const res = await mf.dispatchFetch(url.toString());
        if (!res.ok) throw new Error(`reading the local log failed: ${res.status} ${(await res.text()).slice(0, 200)}`);
        const page = (await res.json()) as { values: Array<[string, string | null]>; cursor: string | null };
        for (const [key, text] of page.values) if (text !== null) yield { key, text };
        cursor = page.cursor;
      } while (cursor);
    },
    async delete(keys) {
      for (let i = 0; i < keys.length; i += 1000) {
        const res = await mf.dispatchFetch('http://reader.local/delete', { method: 'POST', body: JSON.stringify(keys.slice(i, i + 1000)) });
        await res.text();
        if (!res.ok) throw new Error(`deleting local log keys failed: ${res.status}`);
      }
    },
    close: () => mf.dispose(),
  };
}
