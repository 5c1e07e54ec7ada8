// One servable model in this isolate: its validated manifest, its compiled feature assembler, one
// lazily created ORT session and input buffers reused across requests. Runs are serialised per
// model because the buffers are shared (ORT's wasm backend runs one at a time anyway).
import { FeatureAssembler, type AssembledInput, type SlateRecords } from '../../model/features/assemble.ts';
import { parseManifest, type Manifest, type OutputRef } from '../../model/features/manifest.ts';
import { ensureOrtReady, ort } from '../ort/runtime.ts';

export interface Scores {
  pCtr: Float32Array;
  pCvr: Float32Array;
}

export class ModelFault extends Error {}

export class LoadedModel {
  readonly manifest: Manifest;
  readonly assembler: FeatureAssembler;
  private session: Promise<ort.InferenceSession> | undefined;
  private buffers: AssembledInput[] = [];
  private capacity = 0;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    manifest: unknown,
    private readonly bytes: ArrayBuffer,
  ) {
    this.manifest = parseManifest(manifest);
    this.assembler = new FeatureAssembler(this.manifest);
  }

  get id(): string {
    return this.manifest.model.id;
  }

  /** Creates the ORT session on first use; a failure is retried on the next call. */
  ready(): Promise<ort.InferenceSession> {
    if (!this.session) {
      this.session = (async () => {
        await ensureOrtReady();
        return ort.InferenceSession.create(new Uint8Array(this.bytes), {
          executionProviders: ['wasm'],
          // 'basic' keeps the graph's own arithmetic, so scores match onnxruntime-node bit for bit
          // within float rounding (the parity test holds the worker to 1e-5).
          graphOptimizationLevel: 'basic',
        });
      })();
      this.session.catch(() => {
        this.session = undefined;
      });
    }
    return this.session;
  }

  get loaded(): boolean {
    return this.session !== undefined;
  }

  /**
   * Assembles the slate's features and scores it. `onAssembled` sees the filled buffers before
   * they are reused (for explain output).
   */
  score(slate: SlateRecords, onAssembled?: (buffers: AssembledInput[]) => void): Promise<Scores> {
    const run = this.queue.then(() => this.scoreNow(slate, onAssembled));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async scoreNow(slate: SlateRecords, onAssembled?: (buffers: AssembledInput[]) => void): Promise<Scores> {
    const session = await this.ready();
    const rows = slate.items.length;
    if (rows > this.capacity) {
      this.capacity = Math.max(rows, 64);
      this.buffers = this.assembler.allocate(this.capacity);
    }
    this.assembler.fill(slate, this.buffers);
    onAssembled?.(this.buffers);
    const feeds: Record<string, ort.Tensor> = {};
    for (const buffer of this.buffers) {
      const data = buffer.data.subarray(0, rows * buffer.width);
      feeds[buffer.name] = new ort.Tensor(buffer.dtype, data, [rows, buffer.width]);
    }
    const { p_ctr, p_cvr } = this.manifest.outputs;
    const results = await session.run(feeds, [...new Set([p_ctr.name, p_cvr.name])]);
    return { pCtr: readProbabilities(results, p_ctr, rows), pCvr: readProbabilities(results, p_cvr, rows) };
  }
}

/** Reads one probability per row from an [N], [N, 1] or [N, K] (with a column) output. */
function readProbabilities(results: ort.InferenceSession.OnnxValueMapType, ref: OutputRef, rows: number): Float32Array {
  const tensor = results[ref.name];
  if (!tensor) throw new ModelFault(`model returned no output '${ref.name}'`);
  const data = tensor.data;
  if (!(data instanceof Float32Array)) throw new ModelFault(`output '${ref.name}' is ${tensor.type}, expected float32`);
  const width = rows > 0 ? data.length / rows : 1;
  if (!Number.isInteger(width) || width < 1) throw new ModelFault(`output '${ref.name}' has ${data.length} values for ${rows} rows`);
  const column = ref.column ?? 0;
  if (column >= width) throw new ModelFault(`output '${ref.name}' has ${width} columns, manifest asks for column ${column}`);
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const p = data[r * width + column]!;
    if (!(p >= 0 && p <= 1)) throw new ModelFault(`output '${ref.name}' row ${r} is ${p}, not a probability`);
    out[r] = p;
  }
  return out;
}
