// Scores logged impressions: the ESMM loss with the position tower (the quantity training minimises
// and early stopping watches) and the AUCs of the served, position-free predictions.
import { auc, both } from './metrics.ts';
import { sigmoid, esmmLoss } from './loss.ts';
import { forEachLoggedChunk, Workspace } from './network.ts';
import { rowCount } from './dataset.ts';
import type { RankerModel, TrainingSet } from './types.ts';

export interface Evaluation {
  rows: number;
  /** mean ESMM loss (CTR BCE + CTCVR BCE), position tower included */
  loss: number;
  /** AUC of served pCTR against clicks */
  ctrAuc: number;
  /** AUC of served pCVR against purchases, over clicked rows */
  cvrAuc: number;
  /** AUC of served pCTR*pCVR against click AND purchase, over all rows */
  ctcvrAuc: number;
}

export function evaluate(model: RankerModel, set: TrainingSet, ws?: Workspace): Evaluation {
  const rows = rowCount(set);
  const space = ws ?? new Workspace(model, Math.min(4096, Math.max(rows, 1)), false);
  const pCtr = new Float32Array(rows);
  const pCvr = new Float32Array(rows);
  const pCtcvr = new Float32Array(rows);
  // esmmLoss writes logit gradients; evaluation discards them into these scratch buffers.
  const scratchA = new Float32Array(space.capacity);
  const scratchB = new Float32Array(space.capacity);
  let lossSum = 0;
  forEachLoggedChunk(model, space, set, (start, count) => {
    lossSum += esmmLoss(space.ctrLogitWithPosition, space.cvrLogit, space.click, space.purchase, count, scratchA, scratchB);
    for (let r = 0; r < count; r++) {
      const c = sigmoid(space.ctrLogit[r]!);
      const v = sigmoid(space.cvrLogit[r]!);
      pCtr[start + r] = c;
      pCvr[start + r] = v;
      pCtcvr[start + r] = c * v;
    }
  });
  return {
    rows,
    loss: rows === 0 ? NaN : lossSum / rows,
    ctrAuc: auc(pCtr, set.click),
    cvrAuc: auc(pCvr, set.purchase, set.click),
    ctcvrAuc: auc(pCtcvr, both(set.click, set.purchase)),
  };
}
