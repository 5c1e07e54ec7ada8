// A synthetic impression log with a known signal, for tests and benchmarks: click and purchase
// probabilities come from a hidden logistic model over the features (per-value effects, linear and
// non-linear numeric terms, an interaction), clicks are also damped by the displayed position, and
// the position-free truth is returned so a trained model can be compared with the oracle.
import { Rng } from './random.ts';
import type { TrainingSet } from './types.ts';

export interface SyntheticOptions {
  rows: number;
  vocabSizes: number[];
  numericDim: number;
  seed: number;
  /** Positions are drawn uniformly from 1..maxPosition, independent of the features. Default 20. */
  maxPosition?: number;
  /** Click logit drop per unit of ln(position). Default 0.4. */
  positionEffect?: number;
  /** Share of categorical values that are missing (index 0). Default 0.03. */
  missingRate?: number;
}

export interface SyntheticData {
  set: TrainingSet;
  /** True click probability at position 1 (what the served model should learn). */
  trueCtr: Float32Array;
  /** True purchase probability given a click. */
  trueCvr: Float32Array;
}

export function generateSynthetic(options: SyntheticOptions): SyntheticData {
  const { rows, vocabSizes, numericDim, seed } = options;
  const maxPosition = options.maxPosition ?? 20;
  const positionEffect = options.positionEffect ?? 0.4;
  const missingRate = options.missingRate ?? 0.03;
  const rng = new Rng(seed);
  const fields = vocabSizes.length;

  // Hidden effects: per categorical value for each task, and per numeric feature.
  const ctrEffect = vocabSizes.map((v) => Float32Array.from({ length: v }, () => rng.normal() * 0.5));
  const cvrEffect = vocabSizes.map((v, c) => Float32Array.from({ length: v }, (_, i) => 0.4 * ctrEffect[c]![i]! + rng.normal() * 0.4));
  const ctrWeight = Float32Array.from({ length: numericDim }, () => rng.normal() * 0.3);
  const cvrWeight = Float32Array.from({ length: numericDim }, () => rng.normal() * 0.3);

  const cat = new Int32Array(rows * fields);
  const num = new Float32Array(rows * numericDim);
  const click = new Uint8Array(rows);
  const purchase = new Uint8Array(rows);
  const position = new Int32Array(rows);
  const trueCtr = new Float32Array(rows);
  const trueCvr = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let ctrLogit = -1.6;
    let cvrLogit = -1.2;
    for (let c = 0; c < fields; c++) {
      const vocab = vocabSizes[c]!;
      // Skewed popularity: low indices are common, as with real catalogues.
      const u = rng.next();
      const v = vocab === 1 || rng.next() < missingRate ? 0 : 1 + Math.floor(u * u * (vocab - 1));
      cat[r * fields + c] = v;
      ctrLogit += ctrEffect[c]![v]!;
      cvrLogit += cvrEffect[c]![v]!;
    }
    for (let d = 0; d < numericDim; d++) {
      const x = rng.normal();
      num[r * numericDim + d] = x;
      ctrLogit += ctrWeight[d]! * x;
      cvrLogit += cvrWeight[d]! * x;
    }
    if (numericDim >= 3) {
      // Non-linear terms only a hidden layer can represent.
      const x0 = num[r * numericDim]!;
      const x1 = num[r * numericDim + 1]!;
      const x2 = num[r * numericDim + 2]!;
      ctrLogit += 0.5 * x0 * x1 - 0.3 * Math.abs(x2);
      cvrLogit += 0.6 * Math.max(0, x2) - 0.3 * x0 * x0;
    }
    if (fields >= 1 && numericDim >= 1) {
      // Categorical-numeric interaction: the first field flips the sign of the first feature.
      ctrLogit += (cat[r * fields]! % 2 === 0 ? 0.4 : -0.4) * num[r * numericDim]!;
    }
    const pos = 1 + rng.int(maxPosition);
    position[r] = pos;
    const pCtr = 1 / (1 + Math.exp(-ctrLogit));
    const pCvr = 1 / (1 + Math.exp(-cvrLogit));
    const pShown = 1 / (1 + Math.exp(-(ctrLogit - positionEffect * Math.log(pos))));
    trueCtr[r] = pCtr;
    trueCvr[r] = pCvr;
    const clicked = rng.next() < pShown;
    click[r] = clicked ? 1 : 0;
    purchase[r] = clicked && rng.next() < pCvr ? 1 : 0;
  }
  return { set: { cat, num, click, purchase, position, vocabSizes: [...vocabSizes] }, trueCtr, trueCvr };
}
