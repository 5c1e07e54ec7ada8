// The served forward pass in plain JS: what the exported ONNX model computes (no position tower,
// so every item is scored as if shown at position 1). The reference for the ONNX parity tests.
import { sigmoid } from './loss.ts';
import { forEachLoggedChunk, forward, loadInputs, Workspace } from './network.ts';
import type { RankerModel, TrainingSet } from './types.ts';

const CHUNK_ROWS = 1024;

export interface Predictions {
  pCtr: Float32Array;
  pCvr: Float32Array;
}

/** Scores N rows: cat is [N, C] field-local indices, num is [N, D]. */
export function predict(model: RankerModel, cat: Int32Array, num: Float32Array): Predictions {
  const fields = model.embedding.vocabSizes.length;
  const rows = cat.length / fields;
  if (!Number.isInteger(rows)) throw new Error(`cat has ${cat.length} values, not a multiple of C = ${fields}`);
  if (num.length !== rows * model.numericDim) {
    throw new Error(`num has ${num.length} values, expected N*D = ${rows}*${model.numericDim}`);
  }
  checkIndices(model, cat);
  const ws = new Workspace(model, Math.min(CHUNK_ROWS, Math.max(rows, 1)), false);
  const pCtr = new Float32Array(rows);
  const pCvr = new Float32Array(rows);
  for (let start = 0; start < rows; start += ws.capacity) {
    const count = Math.min(ws.capacity, rows - start);
    loadInputs(model, ws, cat, num, null, start, count);
    forward(model, ws);
    for (let r = 0; r < count; r++) {
      pCtr[start + r] = sigmoid(ws.ctrLogit[r]!);
      pCvr[start + r] = sigmoid(ws.cvrLogit[r]!);
    }
  }
  return { pCtr, pCvr };
}

/** An out-of-range index would silently read another field's rows; fail loudly instead. */
function checkIndices(model: RankerModel, cat: Int32Array): void {
  const vocab = model.embedding.vocabSizes;
  const fields = vocab.length;
  for (let i = 0; i < cat.length; i++) {
    const v = cat[i]!;
    if (v < 0 || v >= vocab[i % fields]!) {
      throw new Error(`cat[row ${Math.floor(i / fields)}, field ${i % fields}] = ${v} is outside 0..${vocab[i % fields]! - 1}`);
    }
  }
}

/**
 * Logits of logged impressions as training sees them: CTR with the position tower at each row's
 * logged position, and CVR. What a teacher hands its student (distill.ts).
 */
export function loggedLogits(model: RankerModel, set: TrainingSet): { ctr: Float32Array; cvr: Float32Array } {
  const rows = set.click.length;
  checkIndices(model, set.cat);
  const ws = new Workspace(model, Math.min(CHUNK_ROWS, Math.max(rows, 1)), false);
  const ctr = new Float32Array(rows);
  const cvr = new Float32Array(rows);
  forEachLoggedChunk(model, ws, set, (start, count) => {
    ctr.set(ws.ctrLogitWithPosition.subarray(0, count), start);
    cvr.set(ws.cvrLogit.subarray(0, count), start);
  });
  return { ctr, cvr };
}
