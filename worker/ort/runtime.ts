// onnxruntime-web inside workerd.
//
// Workers forbid compiling WebAssembly from bytes at run time; the wasm must arrive as a
// WebAssembly.Module compiled at deploy time (wrangler's CompiledWasm rule does that for the import
// below). ORT builds its Emscripten config itself and only honours numThreads, wasmBinary and
// locateFile, so no custom instantiateWasm can reach it. What works (see DESIGN.md, platform facts):
//  - give ORT a one-byte placeholder as wasmBinary so it never tries to fetch a URL;
//  - while ORT initialises its wasm backend (inside the first session it creates), make
//    WebAssembly.instantiate ignore the bytes and instantiate the precompiled module with the
//    imports Emscripten hands it; then restore it.
import * as ort from 'onnxruntime-web/wasm';
import ortWasmModule from 'onnxruntime-web/ort-wasm-simd-threaded.wasm';

/** The first session's creation while it starts ORT's backend; others wait for it. */
let starting: Promise<unknown> | undefined;
let started = false;
/** ORT's wasm linear memory, found at instantiation (for memory reports: it counts against the isolate's 128 MB). */
let wasmMemory: WebAssembly.Memory | undefined;

type Instantiate = typeof WebAssembly.instantiate;

/**
 * Creates an ORT session. The first creation also starts ORT's wasm backend, on that model: a
 * separate warm-up model would cost a second session's creation at start-up. If the first one
 * fails (a bad model, or ORT itself), the next creation patches instantiate again - harmless when
 * the backend did come up, since ORT then never calls it.
 */
export async function createSession(bytes: Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  while (!started && starting) await starting.catch(() => undefined);
  if (started) return ort.InferenceSession.create(bytes, options);
  const creating = createStartingBackend(bytes, options);
  starting = creating;
  try {
    const session = await creating;
    started = true;
    return session;
  } finally {
    if (starting === creating) starting = undefined;
  }
}

async function createStartingBackend(bytes: Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  ort.env.wasm.numThreads = 1; // workerd has no threads; with 2 ORT warns and falls back anyway
  ort.env.wasm.wasmBinary = new Uint8Array([0]);
  ort.env.logLevel = 'error';

  const original: Instantiate = WebAssembly.instantiate;
  const patched = (async (_bytes: unknown, imports?: WebAssembly.Imports) => {
    const instance = await original(ortWasmModule, imports);
    wasmMemory = findMemory(instance.exports) ?? Object.values(imports ?? {}).map(findMemory).find((m) => m !== undefined);
    return { instance, module: ortWasmModule };
  }) as unknown as Instantiate;
  WebAssembly.instantiate = patched;
  try {
    return await ort.InferenceSession.create(bytes, options);
  } finally {
    WebAssembly.instantiate = original;
  }
}

/** Bytes of ORT's wasm linear memory in this isolate (undefined before initialisation). */
export function ortWasmMemoryBytes(): number | undefined {
  return wasmMemory?.buffer.byteLength;
}

function findMemory(namespace: unknown): WebAssembly.Memory | undefined {
  if (typeof namespace !== 'object' || namespace === null) return undefined;
  return Object.values(namespace).find((value): value is WebAssembly.Memory => value instanceof WebAssembly.Memory);
}

export { ort };
