// wrangler's CompiledWasm rule turns this import into a WebAssembly.Module (Workers forbid compiling
// wasm from bytes at run time, so the module must be compiled at deploy time).
declare module 'onnxruntime-web/ort-wasm-simd-threaded.wasm' {
  const wasmModule: WebAssembly.Module;
  export default wasmModule;
}

declare module '*.onnx' {
  const bytes: ArrayBuffer;
  export default bytes;
}
