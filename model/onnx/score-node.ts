// Scores assembled rows with an ONNX model in Node (onnxruntime-node, the offline reference). The
// 'basic' optimisation level keeps the graph's own arithmetic; at 'extended'/'all' ORT rewrites
// int8 layers and drifts ~1e-3 from the worker's onnxruntime-web (DESIGN.md, platform facts).
import * as ort from 'onnxruntime-node';

export interface NodeScorer {
  run(feeds: Record<string, { dtype: 'float32' | 'int32' | 'int64'; data: Float32Array | Int32Array | BigInt64Array; width: number }>, rows: number): Promise<Record<string, Float32Array>>;
  inputNames: readonly string[];
  outputNames: readonly string[];
  release(): Promise<void>;
}

export async function nodeScorer(model: Uint8Array): Promise<NodeScorer> {
  const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'basic', intraOpNumThreads: 1, interOpNumThreads: 1 });
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds, rows) {
      const tensors: Record<string, ort.Tensor> = {};
      for (const [name, f] of Object.entries(feeds)) tensors[name] = new ort.Tensor(f.dtype, f.data.subarray(0, rows * f.width), [rows, f.width]);
      const results = await session.run(tensors);
      const out: Record<string, Float32Array> = {};
      for (const [name, tensor] of Object.entries(results)) if (tensor.data instanceof Float32Array) out[name] = tensor.data;
      return out;
    },
    release: () => session.release(),
  };
}

/**
 * p_ctr and p_cvr for every row of a reference-network training set. `batch` is a row count per run
 * or the slate sizes in row order: an int8 model's dynamic quantization picks one scale per input
 * tensor, so only one slate per run reproduces what the worker serves.
 */
export async function scoreTrainingRows(
  model: Uint8Array,
  set: { cat: Int32Array; num: Float32Array; click: Uint8Array },
  batch: number | readonly number[] = 4096,
): Promise<{ pCtr: Float32Array; pCvr: Float32Array }> {
  const scorer = await nodeScorer(model);
  const rows = set.click.length;
  const C = rows > 0 ? set.cat.length / rows : 0;
  const D = rows > 0 ? set.num.length / rows : 0;
  const pCtr = new Float32Array(rows);
  const pCvr = new Float32Array(rows);
  try {
    for (let start = 0, b = 0; start < rows; b++) {
      const n = Math.min(typeof batch === 'number' ? batch : batch[b]!, rows - start);
      if (!(n > 0)) throw new Error(`batch ${b} has no rows`);
      const out = await scorer.run(
        {
          cat: { dtype: 'int32', data: set.cat.subarray(start * C, (start + n) * C), width: C },
          num: { dtype: 'float32', data: set.num.subarray(start * D, (start + n) * D), width: D },
        },
        n,
      );
      pCtr.set(out.p_ctr!, start);
      pCvr.set(out.p_cvr!, start);
      start += n;
    }
  } finally {
    await scorer.release();
  }
  return { pCtr, pCvr };
}
