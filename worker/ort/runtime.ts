// onnxruntime-web inside workerd.
//
// Workers forbid compiling WebAssembly from bytes at run time; the wasm must arrive as a
// WebAssembly.Module compiled at deploy time (wrangler's CompiledWasm rule does that for the import
// below). ORT builds its Emscripten config itself and only honours numThreads, wasmBinary and
// locateFile, so no custom instantiateWasm can reach it. What works (see DESIGN.md, platform facts):
//  - give ORT a one-byte placeholder as wasmBinary so it never tries to fetch a URL;
//  - during ORT's first initialisation only, make WebAssembly.instantiate ignore the bytes and
//    instantiate the precompiled module with the imports Emscripten hands it; then restore it.
import * as ort from 'onnxruntime-web/wasm';
import ortWasmModule from 'onnxruntime-web/ort-wasm-simd-threaded.wasm';
import { warmupModelBytes } from './warmup-model.ts';

let initialised: Promise<void> | undefined;
/** ORT's wasm linear memory, found at instantiation (for memory reports: it counts against the isolate's 128 MB). */
let wasmMemory: WebAssembly.Memory | undefined;

type Instantiate = typeof WebAssembly.instantiate;

async function initialiseOnce(): Promise<void> {
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
    // ORT initialises its wasm backend on the first session it creates.
    await ort.InferenceSession.create(warmupModelBytes());
  } finally {
    WebAssembly.instantiate = original;
  }
}

/** Resolves once ORT's wasm backend is up in this isolate. Safe to call on every request. */
export function ensureOrtReady(): Promise<void> {
  if (!initialised) {
    initialised = initialiseOnce().catch((error: unknown) => {
      initialised = undefined; // allow a later request to retry
      throw error;
    });
  }
  return initialised;
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
