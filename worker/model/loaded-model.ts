// One servable model in this isolate: its validated manifest, its compiled feature assembler, one
// lazily created ORT session and input buffers reused across requests. Runs are serialised per
// model because the buffers are shared (ORT's wasm backend runs one at a time anyway).
import { FeatureAssembler, type AssembledInput, type SlateRecords } from '../../model/features/assemble.ts';
import { parseManifest, type Manifest, type OutputRef } from '../../model/features/manifest.ts';
import { createSession, ort } from '../ort/runtime.ts';

export interface Scores {
  pCtr: Float32Array;
  pCvr: Float32Array;
}

export class ModelFault extends Error {}

/** onnxruntime's graph optimisation levels that make sense for a served model. */
export const GRAPH_OPTIMIZATION_LEVELS = ['basic', 'extended', 'all'] as const;
export type GraphOptimizationLevel = (typeof GRAPH_OPTIMIZATION_LEVELS)[number];

export class LoadedModel {
  readonly manifest: Manifest;
  readonly assembler: FeatureAssembler;
  private session: Promise<ort.InferenceSession> | undefined;
  private buffers: AssembledInput[] = [];
  private capacity = 0;
  private queue: Promise<unknown> = Promise.resolve();
  /** the output names to fetch (p_ctr and p_cvr may share one output) */
  private readonly fetches: string[];

  constructor(
    manifest: unknown,
    private readonly bytes: ArrayBuffer,
    private readonly graphOptimizationLevel: GraphOptimizationLevel = 'basic',
  ) {
    this.manifest = parseManifest(manifest);
    // the record cache hands out the same immutable records request after request
    this.assembler = new FeatureAssembler(this.manifest, { memoizeItemColumns: true });
    this.fetches = [...new Set([this.manifest.outputs.p_ctr.name, this.manifest.outputs.p_cvr.name])];
  }

  get id(): string {
    return this.manifest.model.id;
  }

  /** The same model with its own session at another optimisation level (bench A/B comparisons). */
  atLevel(level: GraphOptimizationLevel): LoadedModel {
    return new LoadedModel(this.manifest, this.bytes, level);
  }

  /**
   * Creates the ORT session on first use; a failure is retried on the next call. 'basic' (the
   * default) keeps the graph's own arithmetic, so scores match onnxruntime-node bit for bit within
   * float rounding (the parity test holds the worker to 1e-5). A higher level (ORT_GRAPH_OPTIMIZATION)
   * fuses the int8 layers; should ORT fail to build the optimised graph, the session falls back to
   * 'basic'.
   */
  ready(): Promise<ort.InferenceSession> {
    if (!this.session) {
      this.session = (async () => {
        const create = (level: GraphOptimizationLevel) => createSession(new Uint8Array(this.bytes), { executionProviders: ['wasm'], graphOptimizationLevel: level });
        let session: ort.InferenceSession;
        if (this.graphOptimizationLevel === 'basic') {
          session = await create('basic');
        } else {
          try {
            session = await create(this.graphOptimizationLevel);
          } catch (error) {
            console.error(`model ${this.id}: no session at graph optimisation level '${this.graphOptimizationLevel}', using 'basic'`, error);
            session = await create('basic');
          }
        }
        await this.warmUp(session);
        return session;
      })();
      this.session.catch(() => {
        this.session = undefined;
      });
    }
    return this.session;
  }

  /**
   * One inference on a single row of defaults: the first run of a session compiles the wasm code
   * it touches (tens of ms), so it happens here - in the isolate's start-up (worker/index.ts), or
   * with ORT_PRELOAD=off while the first request reads KV - rather than in a request's model
   * stage. A failure is the real run's to report.
   */
  private async warmUp(session: ort.InferenceSession): Promise<void> {
    try {
      const buffers = this.assembler.allocate(1);
      this.assembler.fill({ context: {}, items: [{ id: '' }] }, buffers);
      const feeds: Record<string, ort.Tensor> = {};
      for (const b of buffers) feeds[b.name] = new ort.Tensor(b.dtype, b.data, [1, b.width]);
      await session.run(feeds, this.fetches);
    } catch {
      // e.g. a model whose outputs do not match its manifest: scoring says so, with a fallback
    }
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

  /**
   * Bench only (routes/bench.ts): assembles the slate once, then runs the session `runs` times on
   * the same inputs, so a client can time the model alone. Serialised with score().
   */
  scoreRepeatedly(slate: SlateRecords, runs: number): Promise<Scores> {
    const run = this.queue.then(async () => {
      const session = await this.ready();
      const rows = this.assemble(slate);
      let scores = await this.run(session, rows);
      for (let i = 1; i < runs; i++) scores = await this.run(session, rows);
      return scores;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async scoreNow(slate: SlateRecords, onAssembled?: (buffers: AssembledInput[]) => void): Promise<Scores> {
    const session = await this.ready();
    const rows = this.assemble(slate);
    onAssembled?.(this.buffers);
    return this.run(session, rows);
  }

  /** Fills the reused input buffers with the slate's rows; returns the row count. */
  private assemble(slate: SlateRecords): number {
    const rows = slate.items.length;
    if (rows > this.capacity) {
      this.capacity = Math.max(rows, 64);
      this.buffers = this.assembler.allocate(this.capacity);
    }
    this.assembler.fill(slate, this.buffers);
    return rows;
  }

  private async run(session: ort.InferenceSession, rows: number): Promise<Scores> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const buffer of this.buffers) {
      const data = buffer.data.subarray(0, rows * buffer.width);
      feeds[buffer.name] = new ort.Tensor(buffer.dtype, data, [rows, buffer.width]);
    }
    const { p_ctr, p_cvr } = this.manifest.outputs;
    const results = await session.run(feeds, this.fetches);
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
