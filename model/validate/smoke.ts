// The validator's smoke run: the model scores synthetic slates (empty and random records, batches of
// 1 and 500) assembled by the real FeatureAssembler, in onnxruntime-node and in onnxruntime-web (the
// runtime the worker uses, here its wasm build in Node), both at the 'basic' optimisation level the
// worker uses. Outputs are read the way the worker reads them (worker/model/loaded-model.ts): one
// float32 per row at the manifest's column, finite and within [0, 1].
import { FeatureAssembler, type AssembledInput, type SlateRecords } from '../features/assemble.ts';
import type { Manifest, OutputRef } from '../features/manifest.ts';
import type { Issue } from './check-signature.ts';
import { emptySlate, randomSlate, type SlateKind } from './synthetic-slates.ts';

export type RuntimeName = 'onnxruntime-node' | 'onnxruntime-web';

interface RunOutput {
  type: string;
  dims: readonly number[];
  data: unknown;
}

interface Session {
  run(feeds: AssembledInput[], rows: number, fetches: string[]): Promise<Record<string, RunOutput>>;
  release(): Promise<void>;
}

/** ORT's Tensor and InferenceSession, the part both packages share. */
interface OrtLike {
  Tensor: new (type: 'float32' | 'int32' | 'int64', data: Float32Array | Int32Array | BigInt64Array, dims: number[]) => unknown;
  InferenceSession: {
    create(model: Uint8Array, options: Record<string, unknown>): Promise<{
      run(feeds: Record<string, unknown>, fetches: string[]): Promise<Record<string, RunOutput>>;
      release(): Promise<void>;
    }>;
  };
}

async function loadRuntime(name: RuntimeName): Promise<OrtLike> {
  if (name === 'onnxruntime-node') return (await import('onnxruntime-node')) as unknown as OrtLike;
  const ort = await import('onnxruntime-web/wasm');
  ort.env.wasm.numThreads = 1; // as in the worker
  ort.env.logLevel = 'error';
  return ort as unknown as OrtLike;
}

async function createSession(name: RuntimeName, bytes: Uint8Array): Promise<Session> {
  const ort = await loadRuntime(name);
  const options: Record<string, unknown> = { graphOptimizationLevel: 'basic', logSeverityLevel: 3 };
  if (name === 'onnxruntime-node') Object.assign(options, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  else options.executionProviders = ['wasm'];
  const session = await ort.InferenceSession.create(bytes, options);
  return {
    async run(feeds, rows, fetches) {
      const tensors: Record<string, unknown> = {};
      for (const f of feeds) tensors[f.name] = new ort.Tensor(f.dtype, f.data.subarray(0, rows * f.width), [rows, f.width]);
      return session.run(tensors, fetches);
    },
    release: () => session.release(),
  };
}

export interface Range {
  min: number;
  max: number;
  mean: number;
}

export interface SmokeCase {
  runtime: RuntimeName;
  records: SlateKind;
  rows: number;
  ok: boolean;
  p_ctr?: Range;
  p_cvr?: Range;
  /** the dims of the outputs read, e.g. { probabilities: [500, 2] } */
  dims?: Record<string, number[]>;
  error?: string;
}

export interface SmokeReport {
  runtimes: RuntimeName[];
  cases: SmokeCase[];
  /** the largest |onnxruntime-web - onnxruntime-node| over every probability scored by both */
  max_abs_diff_web_vs_node: number | null;
}

export interface SmokeResult {
  report: SmokeReport;
  errors: Issue[];
  warnings: Issue[];
}

export interface SmokeOptions {
  runtimes?: RuntimeName[];
  batchSizes?: number[];
  seed?: number;
}

/** Past this the worker would not reproduce offline scores (the worker tests hold it to 1e-5). */
const WEB_NODE_TOLERANCE = 1e-4;

class ReadError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** One probability per row, as the worker reads it; throws ReadError naming what is wrong. */
function readProbabilities(outputs: Record<string, RunOutput>, ref: OutputRef, rows: number): Float32Array {
  const tensor = outputs[ref.name];
  if (!tensor) throw new ReadError('smoke_output_missing', `output '${ref.name}' was not returned`);
  if (!(tensor.data instanceof Float32Array)) throw new ReadError('smoke_output_dtype', `output '${ref.name}' is ${tensor.type}, the worker reads float32`);
  const data = tensor.data;
  const dims = [...tensor.dims];
  if (dims[0] !== rows || dims.length > 2) {
    throw new ReadError('smoke_output_shape', `output '${ref.name}' has dims [${dims.join(', ')}] for ${rows} rows; the worker reads [N], [N, 1] or [N, K]`);
  }
  const width = data.length / rows;
  const column = ref.column ?? 0;
  if (column >= width) throw new ReadError('smoke_output_column', `output '${ref.name}' has ${width} column(s) (dims [${dims.join(', ')}]); the manifest reads column ${column}`);
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const p = data[r * width + column]!;
    if (!Number.isFinite(p)) throw new ReadError('smoke_not_finite', `output '${ref.name}' row ${r} is ${p}`);
    if (p < 0 || p > 1) throw new ReadError('smoke_not_probability', `output '${ref.name}' row ${r} is ${p}, not a probability in [0, 1] (raw scores or logits? apply a Sigmoid in the graph)`);
    out[r] = p;
  }
  return out;
}

function range(values: Float32Array): Range {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  const round = (x: number) => Number(x.toPrecision(6));
  return { min: round(min), max: round(max), mean: round(sum / values.length) };
}

export async function smokeRun(bytes: Uint8Array, manifest: Manifest, options: SmokeOptions = {}): Promise<SmokeResult> {
  const runtimes = options.runtimes ?? ['onnxruntime-node', 'onnxruntime-web'];
  const batchSizes = options.batchSizes ?? [1, 500];
  const errors: Issue[] = [];
  const warnings: Issue[] = [];
  const cases: SmokeCase[] = [];
  const slates: Array<{ records: SlateKind; rows: number; slate: SlateRecords }> = [];
  for (const records of ['empty', 'random'] as const) {
    for (const rows of batchSizes) slates.push({ records, rows, slate: records === 'empty' ? emptySlate(rows) : randomSlate(manifest, rows, options.seed) });
  }
  const assembler = new FeatureAssembler(manifest);
  const fetches = [...new Set([manifest.outputs.p_ctr.name, manifest.outputs.p_cvr.name])];
  /** scores by runtime, then by slate index */
  const scores = new Map<RuntimeName, Array<{ p_ctr: Float32Array; p_cvr: Float32Array } | undefined>>();
  /** first failure per code and head, with how many runs failed that way */
  const failures = new Map<string, { code: string; message: string; count: number }>();
  const fail = (code: string, message: string) => {
    const entry = failures.get(code);
    if (entry) entry.count++;
    else failures.set(code, { code, message, count: 1 });
  };

  for (const runtime of runtimes) {
    let session: Session;
    try {
      session = await createSession(runtime, bytes);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      errors.push({
        code: 'smoke_session',
        message: `${runtime} cannot load the model: ${why.trim().split('\n')[0]}${runtime === 'onnxruntime-web' ? ' (the worker runs onnxruntime-web: use operators and opsets its wasm build supports)' : ''}`,
      });
      continue;
    }
    const perSlate: Array<{ p_ctr: Float32Array; p_cvr: Float32Array } | undefined> = [];
    try {
      for (const { records, rows, slate } of slates) {
        const buffers = assembler.allocate(rows);
        assembler.fill(slate, buffers);
        const entry: SmokeCase = { runtime, records, rows, ok: false };
        cases.push(entry);
        let outputs: Record<string, RunOutput>;
        try {
          outputs = await session.run(buffers, rows, fetches);
        } catch (error) {
          entry.error = (error instanceof Error ? error.message : String(error)).trim().split('\n')[0]!;
          fail('smoke_run', `${runtime} failed to run a batch of ${rows} (${records} records): ${entry.error}`);
          perSlate.push(undefined);
          continue;
        }
        entry.dims = Object.fromEntries(fetches.map((name) => [name, [...(outputs[name]?.dims ?? [])]]));
        try {
          const p_ctr = readProbabilities(outputs, manifest.outputs.p_ctr, rows);
          const p_cvr = readProbabilities(outputs, manifest.outputs.p_cvr, rows);
          Object.assign(entry, { ok: true, p_ctr: range(p_ctr), p_cvr: range(p_cvr) });
          perSlate.push({ p_ctr, p_cvr });
        } catch (error) {
          if (!(error instanceof ReadError)) throw error;
          entry.error = error.message;
          fail(error.code, `${runtime}, batch of ${rows} (${records} records): ${error.message}`);
          perSlate.push(undefined);
        }
      }
    } finally {
      await session.release();
    }
    scores.set(runtime, perSlate);
  }
  for (const { code, message, count } of failures.values()) {
    errors.push({ code, message: count > 1 ? `${message} (and ${count - 1} more run${count > 2 ? 's' : ''} failed the same way)` : message });
  }

  let maxDiff: number | null = null;
  const web = scores.get('onnxruntime-web');
  const node = scores.get('onnxruntime-node');
  if (web && node) {
    for (let i = 0; i < slates.length; i++) {
      const a = web[i];
      const b = node[i];
      if (!a || !b) continue;
      for (const head of ['p_ctr', 'p_cvr'] as const) {
        for (let r = 0; r < a[head].length; r++) maxDiff = Math.max(maxDiff ?? 0, Math.abs(a[head][r]! - b[head][r]!));
      }
    }
    if (maxDiff !== null && maxDiff > WEB_NODE_TOLERANCE) {
      warnings.push({ code: 'smoke_runtime_diff', message: `onnxruntime-web and onnxruntime-node differ by up to ${maxDiff.toExponential(2)} on the same rows; offline scores will not reproduce in the worker` });
    }
  }
  return { report: { runtimes, cases, max_abs_diff_web_vs_node: maxDiff }, errors, warnings };
}
