// Dense-layer kernels over row-major Float32Array matrices, in plain JS: the readable reference and
// the fallback for SimdKernels (simd-kernels.ts), which the trainer uses by default because it is
// about ten times faster. V8 does not vectorise, so the speed here comes from register blocking:
// each kernel keeps a 4x4 tile of accumulators in locals and streams the reduction dimension, doing
// 16 multiply-adds per 8 loads. Edges fall back to narrower tiles. Accumulation happens in doubles
// (JS numbers) and is rounded once on store.

/** The three products a dense layer needs; implemented by jsKernels and SimdKernels. */
export interface Kernels {
  /** A buffer the kernels can read and write without copying (activations and their gradients). */
  allocate(length: number): Float32Array;
  denseForward: typeof denseForward;
  denseBackwardInput: typeof denseBackwardInput;
  denseBackwardParams: typeof denseBackwardParams;
}

export type KernelBackend = 'simd' | 'js';

/** y[B, out] = x[B, in] @ w[in, out] + bias (then ReLU if asked). */
export function denseForward(
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array,
  y: Float32Array,
  rows: number,
  inSize: number,
  outSize: number,
  relu: boolean,
): void {
  const out4 = outSize - (outSize % 4);
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const x0 = r * inSize;
    const x1 = x0 + inSize;
    const x2 = x1 + inSize;
    const x3 = x2 + inSize;
    const y0 = r * outSize;
    const y1 = y0 + outSize;
    const y2 = y1 + outSize;
    const y3 = y2 + outSize;
    for (let j = 0; j < out4; j += 4) {
      const b0 = bias[j]!, b1 = bias[j + 1]!, b2 = bias[j + 2]!, b3 = bias[j + 3]!;
      let s00 = b0, s01 = b1, s02 = b2, s03 = b3;
      let s10 = b0, s11 = b1, s12 = b2, s13 = b3;
      let s20 = b0, s21 = b1, s22 = b2, s23 = b3;
      let s30 = b0, s31 = b1, s32 = b2, s33 = b3;
      for (let k = 0, wk = j; k < inSize; k++, wk += outSize) {
        const w0 = w[wk]!, w1 = w[wk + 1]!, w2 = w[wk + 2]!, w3 = w[wk + 3]!;
        const a0 = x[x0 + k]!, a1 = x[x1 + k]!, a2 = x[x2 + k]!, a3 = x[x3 + k]!;
        s00 += a0 * w0; s01 += a0 * w1; s02 += a0 * w2; s03 += a0 * w3;
        s10 += a1 * w0; s11 += a1 * w1; s12 += a1 * w2; s13 += a1 * w3;
        s20 += a2 * w0; s21 += a2 * w1; s22 += a2 * w2; s23 += a2 * w3;
        s30 += a3 * w0; s31 += a3 * w1; s32 += a3 * w2; s33 += a3 * w3;
      }
      if (relu) {
        y[y0 + j] = s00 > 0 ? s00 : 0; y[y0 + j + 1] = s01 > 0 ? s01 : 0; y[y0 + j + 2] = s02 > 0 ? s02 : 0; y[y0 + j + 3] = s03 > 0 ? s03 : 0;
        y[y1 + j] = s10 > 0 ? s10 : 0; y[y1 + j + 1] = s11 > 0 ? s11 : 0; y[y1 + j + 2] = s12 > 0 ? s12 : 0; y[y1 + j + 3] = s13 > 0 ? s13 : 0;
        y[y2 + j] = s20 > 0 ? s20 : 0; y[y2 + j + 1] = s21 > 0 ? s21 : 0; y[y2 + j + 2] = s22 > 0 ? s22 : 0; y[y2 + j + 3] = s23 > 0 ? s23 : 0;
        y[y3 + j] = s30 > 0 ? s30 : 0; y[y3 + j + 1] = s31 > 0 ? s31 : 0; y[y3 + j + 2] = s32 > 0 ? s32 : 0; y[y3 + j + 3] = s33 > 0 ? s33 : 0;
      } else {
        y[y0 + j] = s00; y[y0 + j + 1] = s01; y[y0 + j + 2] = s02; y[y0 + j + 3] = s03;
        y[y1 + j] = s10; y[y1 + j + 1] = s11; y[y1 + j + 2] = s12; y[y1 + j + 3] = s13;
        y[y2 + j] = s20; y[y2 + j + 1] = s21; y[y2 + j + 2] = s22; y[y2 + j + 3] = s23;
        y[y3 + j] = s30; y[y3 + j + 1] = s31; y[y3 + j + 2] = s32; y[y3 + j + 3] = s33;
      }
    }
    // Remaining columns (e.g. a head's single logit): 4 rows x 1 column.
    for (let j = out4; j < outSize; j++) {
      const b = bias[j]!;
      let s0 = b, s1 = b, s2 = b, s3 = b;
      for (let k = 0, wk = j; k < inSize; k++, wk += outSize) {
        const wv = w[wk]!;
        s0 += x[x0 + k]! * wv; s1 += x[x1 + k]! * wv; s2 += x[x2 + k]! * wv; s3 += x[x3 + k]! * wv;
      }
      y[y0 + j] = relu && s0 < 0 ? 0 : s0;
      y[y1 + j] = relu && s1 < 0 ? 0 : s1;
      y[y2 + j] = relu && s2 < 0 ? 0 : s2;
      y[y3 + j] = relu && s3 < 0 ? 0 : s3;
    }
  }
  // Remaining rows: one at a time.
  for (; r < rows; r++) {
    const xr = r * inSize;
    const yr = r * outSize;
    for (let j = 0; j < outSize; j++) {
      let s = bias[j]!;
      for (let k = 0, wk = j; k < inSize; k++, wk += outSize) s += x[xr + k]! * w[wk]!;
      y[yr + j] = relu && s < 0 ? 0 : s;
    }
  }
}

/**
 * dx[B, in] = dy[B, out] @ w^T, for the first `inCols` input columns only (the trainer needs the
 * input gradient of the first layer only over the embedding columns, not the numeric ones).
 * With `accumulate`, adds into dx instead of overwriting (two heads feed one shared layer).
 */
export function denseBackwardInput(
  dy: Float32Array,
  w: Float32Array,
  dx: Float32Array,
  rows: number,
  inSize: number,
  outSize: number,
  inCols: number,
  accumulate: boolean,
): void {
  const cols4 = inCols - (inCols % 4);
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const d0 = r * outSize;
    const d1 = d0 + outSize;
    const d2 = d1 + outSize;
    const d3 = d2 + outSize;
    const x0 = r * inSize;
    const x1 = x0 + inSize;
    const x2 = x1 + inSize;
    const x3 = x2 + inSize;
    for (let k = 0; k < cols4; k += 4) {
      const w0 = k * outSize;
      const w1 = w0 + outSize;
      const w2 = w1 + outSize;
      const w3 = w2 + outSize;
      // Accumulating starts the sums from dx's current values instead of 0.
      let s00 = (accumulate ? dx[x0 + k]! : 0), s01 = (accumulate ? dx[x0 + k + 1]! : 0), s02 = (accumulate ? dx[x0 + k + 2]! : 0), s03 = (accumulate ? dx[x0 + k + 3]! : 0);
      let s10 = (accumulate ? dx[x1 + k]! : 0), s11 = (accumulate ? dx[x1 + k + 1]! : 0), s12 = (accumulate ? dx[x1 + k + 2]! : 0), s13 = (accumulate ? dx[x1 + k + 3]! : 0);
      let s20 = (accumulate ? dx[x2 + k]! : 0), s21 = (accumulate ? dx[x2 + k + 1]! : 0), s22 = (accumulate ? dx[x2 + k + 2]! : 0), s23 = (accumulate ? dx[x2 + k + 3]! : 0);
      let s30 = (accumulate ? dx[x3 + k]! : 0), s31 = (accumulate ? dx[x3 + k + 1]! : 0), s32 = (accumulate ? dx[x3 + k + 2]! : 0), s33 = (accumulate ? dx[x3 + k + 3]! : 0);
      for (let j = 0; j < outSize; j++) {
        const g0 = dy[d0 + j]!, g1 = dy[d1 + j]!, g2 = dy[d2 + j]!, g3 = dy[d3 + j]!;
        const v0 = w[w0 + j]!, v1 = w[w1 + j]!, v2 = w[w2 + j]!, v3 = w[w3 + j]!;
        s00 += g0 * v0; s01 += g0 * v1; s02 += g0 * v2; s03 += g0 * v3;
        s10 += g1 * v0; s11 += g1 * v1; s12 += g1 * v2; s13 += g1 * v3;
        s20 += g2 * v0; s21 += g2 * v1; s22 += g2 * v2; s23 += g2 * v3;
        s30 += g3 * v0; s31 += g3 * v1; s32 += g3 * v2; s33 += g3 * v3;
      }
      dx[x0 + k] = s00; dx[x0 + k + 1] = s01; dx[x0 + k + 2] = s02; dx[x0 + k + 3] = s03;
      dx[x1 + k] = s10; dx[x1 + k + 1] = s11; dx[x1 + k + 2] = s12; dx[x1 + k + 3] = s13;
      dx[x2 + k] = s20; dx[x2 + k + 1] = s21; dx[x2 + k + 2] = s22; dx[x2 + k + 3] = s23;
      dx[x3 + k] = s30; dx[x3 + k + 1] = s31; dx[x3 + k + 2] = s32; dx[x3 + k + 3] = s33;
    }
    for (let k = cols4; k < inCols; k++) {
      const wk = k * outSize;
      let s0 = (accumulate ? dx[x0 + k]! : 0), s1 = (accumulate ? dx[x1 + k]! : 0), s2 = (accumulate ? dx[x2 + k]! : 0), s3 = (accumulate ? dx[x3 + k]! : 0);
      for (let j = 0; j < outSize; j++) {
        const v = w[wk + j]!;
        s0 += dy[d0 + j]! * v; s1 += dy[d1 + j]! * v; s2 += dy[d2 + j]! * v; s3 += dy[d3 + j]! * v;
      }
      dx[x0 + k] = s0; dx[x1 + k] = s1; dx[x2 + k] = s2; dx[x3 + k] = s3;
    }
  }
  for (; r < rows; r++) {
    const dr = r * outSize;
    const xr = r * inSize;
    for (let k = 0; k < inCols; k++) {
      const wk = k * outSize;
      let s = 0;
      for (let j = 0; j < outSize; j++) s += dy[dr + j]! * w[wk + j]!;
      dx[xr + k] = accumulate ? dx[xr + k]! + s : s;
    }
  }
}

/** dw[in, out] = x^T @ dy and dbias[out] = column sums of dy (both overwritten). */
export function denseBackwardParams(
  x: Float32Array,
  dy: Float32Array,
  dw: Float32Array,
  dbias: Float32Array,
  rows: number,
  inSize: number,
  outSize: number,
): void {
  const in4 = inSize - (inSize % 4);
  const out4 = outSize - (outSize % 4);
  for (let k = 0; k < in4; k += 4) {
    const dw0 = k * outSize;
    const dw1 = dw0 + outSize;
    const dw2 = dw1 + outSize;
    const dw3 = dw2 + outSize;
    for (let j = 0; j < out4; j += 4) {
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0;
      let s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      let s20 = 0, s21 = 0, s22 = 0, s23 = 0;
      let s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      for (let r = 0, xr = k, dr = j; r < rows; r++, xr += inSize, dr += outSize) {
        const a0 = x[xr]!, a1 = x[xr + 1]!, a2 = x[xr + 2]!, a3 = x[xr + 3]!;
        const g0 = dy[dr]!, g1 = dy[dr + 1]!, g2 = dy[dr + 2]!, g3 = dy[dr + 3]!;
        s00 += a0 * g0; s01 += a0 * g1; s02 += a0 * g2; s03 += a0 * g3;
        s10 += a1 * g0; s11 += a1 * g1; s12 += a1 * g2; s13 += a1 * g3;
        s20 += a2 * g0; s21 += a2 * g1; s22 += a2 * g2; s23 += a2 * g3;
        s30 += a3 * g0; s31 += a3 * g1; s32 += a3 * g2; s33 += a3 * g3;
      }
      dw[dw0 + j] = s00; dw[dw0 + j + 1] = s01; dw[dw0 + j + 2] = s02; dw[dw0 + j + 3] = s03;
      dw[dw1 + j] = s10; dw[dw1 + j + 1] = s11; dw[dw1 + j + 2] = s12; dw[dw1 + j + 3] = s13;
      dw[dw2 + j] = s20; dw[dw2 + j + 1] = s21; dw[dw2 + j + 2] = s22; dw[dw2 + j + 3] = s23;
      dw[dw3 + j] = s30; dw[dw3 + j + 1] = s31; dw[dw3 + j + 2] = s32; dw[dw3 + j + 3] = s33;
    }
    for (let j = out4; j < outSize; j++) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let r = 0, xr = k, dr = j; r < rows; r++, xr += inSize, dr += outSize) {
        const g = dy[dr]!;
        s0 += x[xr]! * g; s1 += x[xr + 1]! * g; s2 += x[xr + 2]! * g; s3 += x[xr + 3]! * g;
      }
      dw[dw0 + j] = s0; dw[dw1 + j] = s1; dw[dw2 + j] = s2; dw[dw3 + j] = s3;
    }
  }
  for (let k = in4; k < inSize; k++) {
    for (let j = 0; j < outSize; j++) {
      let s = 0;
      for (let r = 0, xr = k, dr = j; r < rows; r++, xr += inSize, dr += outSize) s += x[xr]! * dy[dr]!;
      dw[k * outSize + j] = s;
    }
  }
  for (let j = 0; j < outSize; j++) {
    let s = 0;
    for (let r = 0, dr = j; r < rows; r++, dr += outSize) s += dy[dr]!;
    dbias[j] = s;
  }
}

export const jsKernels: Kernels = {
  allocate: (length) => new Float32Array(length),
  denseForward,
  denseBackwardInput,
  denseBackwardParams,
};
