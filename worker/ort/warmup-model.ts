// A one-node ONNX model (y = Identity(x), float32[1]) used only to make ORT initialise its wasm
// backend, so that the precompiled-module patch in runtime.ts is active for as short as possible
// and does not depend on the (possibly faulty) real model. Made with model/onnx/graph.ts.
const WARMUP_MODEL_BASE64 = 'CAgSC2VkZ2UtcmFua2VyGgUwLjEuMDpMCiAKAXgSAXkaDG5fSWRlbnRpdHlfMCIISWRlbnRpdHk6ABIGd2FybXVwWg8KAXgSCgoICAESBAoCCAFiDwoBeRIKCggIARIECgIIAUIECgAQEQ==';

export function warmupModelBytes(): Uint8Array {
  const binary = atob(WARMUP_MODEL_BASE64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
