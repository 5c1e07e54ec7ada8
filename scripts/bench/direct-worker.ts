// The bundle on workerd with a socket straight into the worker, for the requests-per-second figure.
//
// Every request to `wrangler dev` - even at workerd's own port - first runs Miniflare's entry worker
// (JavaScript that adds request.cf, handles the dev registry, pretty errors and live reload, then
// calls the user worker through a service binding). Measured here it costs about 0.23 ms of the one
// workerd thread per request: the no-op route tops out near 2,700 req/s through it and near 7,000
// direct. Nothing like it runs at the edge, so throughput is measured at a socket Miniflare binds
// to the user worker itself (its `unsafeDirectSockets`), on the same bundle, bindings, vars and
// persisted KV as `wrangler dev` uses.
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Miniflare } from 'miniflare';
import { freePort } from './wrangler-dev.ts';

export interface DirectWorker {
  /** http://127.0.0.1:port of the socket bound to the user worker */
  base: string;
  dispose(): Promise<void>;
}

type ModuleType = 'ESModule' | 'CompiledWasm' | 'Data';

/** The modules of a `wrangler deploy --dry-run --outdir` build, entry first (workerd requires it). */
async function bundleModules(script: string): Promise<Array<{ type: ModuleType; path: string }>> {
  const dir = dirname(script);
  const typeOf = (name: string): ModuleType | undefined => (name.endsWith('.js') ? 'ESModule' : name.endsWith('.wasm') ? 'CompiledWasm' : name.endsWith('.onnx') ? 'Data' : undefined);
  const others = (await readdir(dir))
    .filter((name) => join(dir, name) !== script && typeOf(name) !== undefined)
    .map((name) => ({ type: typeOf(name)!, path: join(dir, name) }));
  return [{ type: 'ESModule', path: script }, ...others];
}

/**
 * Starts `script` (a bundle with its modules beside it) under Miniflare with wrangler.toml's
 * bindings, `vars` on top, and KV persisted under `persistTo` (wrangler dev's --persist-to layout).
 */
export async function startDirectWorker(options: { root: string; script: string; persistTo: string; vars: Record<string, string> }): Promise<DirectWorker> {
  process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false'; // offline: no Request.cf sample download
  const [{ Miniflare }, { unstable_getMiniflareWorkerOptions }] = await Promise.all([import('miniflare'), import('wrangler')]);
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(options.root, 'wrangler.toml'));
  const port = await freePort();
  const mf: Miniflare = new Miniflare({
    host: '127.0.0.1',
    port: await freePort(),
    compatibilityDate: workerOptions.compatibilityDate,
    compatibilityFlags: workerOptions.compatibilityFlags,
    kvNamespaces: workerOptions.kvNamespaces,
    queueProducers: workerOptions.queueProducers,
    bindings: { ...(workerOptions.bindings as Record<string, string> | undefined), ...options.vars },
    modules: await bundleModules(options.script),
    defaultPersistRoot: join(options.persistTo, 'v3'),
    unsafeDirectSockets: [{ host: '127.0.0.1', port }],
  });
  try {
    await mf.ready;
  } catch (error) {
    await mf.dispose().catch(() => undefined); // or its workerd keeps the bench from exiting
    throw error;
  }
  return { base: `http://127.0.0.1:${port}`, dispose: () => mf.dispose() };
}
