// The ESMM loss over all impressions (Ma et al. 2018): BCE(click, pCTR) + BCE(click AND purchase,
// pCTR * pCVR). pCVR is never fit on the clicked subset alone, which would bias it (clicked rows are
// not a random sample of what gets served) and starve it of data.

/** Numerically stable logistic function. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/**
 * Given logits a (CTR, position bias included) and b (CVR) for `rows` rows, writes the gradient of
 * the batch-mean loss w.r.t. each logit into dA and dB and returns the summed (not mean) loss.
 * Everything is computed from exp(-|z|), so no log(0) or 0/0 for any finite logit.
 */
export function esmmLoss(
  a: Float32Array,
  b: Float32Array,
  click: Uint8Array,
  purchase: Uint8Array,
  rows: number,
  dA: Float32Array,
  dB: Float32Array,
): number {
  const scale = 1 / rows;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const za = a[r]!;
    const zb = b[r]!;
    // p = sigmoid(za), pNeg = 1 - p, logP = log p, logPNeg = log(1 - p); same for b.
    const ea = Math.exp(-Math.abs(za));
    const p = za >= 0 ? 1 / (1 + ea) : ea / (1 + ea);
    const pNeg = za >= 0 ? ea / (1 + ea) : 1 / (1 + ea);
    const log1pEa = Math.log1p(ea);
    const logP = za >= 0 ? -log1pEa : za - log1pEa;
    const logPNeg = za >= 0 ? -za - log1pEa : -log1pEa;
    const eb = Math.exp(-Math.abs(zb));
    const rr = zb >= 0 ? 1 / (1 + eb) : eb / (1 + eb);
    const rNeg = zb >= 0 ? eb / (1 + eb) : 1 / (1 + eb);
    const log1pEb = Math.log1p(eb);
    const logR = zb >= 0 ? -log1pEb : zb - log1pEb;

    const clicked = click[r]! !== 0;
    const converted = clicked && purchase[r]! !== 0;
    // BCE(click, p)
    let loss = clicked ? -logP : -logPNeg;
    let gradA = p - (clicked ? 1 : 0);
    let gradB: number;
    // BCE(click AND purchase, q = p * r)
    if (converted) {
      loss += -logP - logR;
      gradA -= pNeg;
      gradB = -rNeg;
    } else {
      // 1 - p*r = (1 - p) + p * (1 - r): a sum of non-negative terms, no cancellation.
      const qNeg = pNeg + p * rNeg;
      const q = p * rr;
      loss += -Math.log(qNeg);
      gradA += (q * pNeg) / qNeg;
      gradB = (q * rNeg) / qNeg;
    }
    total += loss;
    dA[r] = gradA * scale;
    dB[r] = gradB * scale;
  }
  return total;
}

/**
 * The ESMM loss against soft targets (distillation): BCE(y, pCTR) + BCE(t, pCTR * pCVR) with y the
 * target P(click) and t the target P(click and purchase), 0 <= t <= y <= 1. With y and t in {0, 1}
 * it is esmmLoss; that one stays separate so training on logged labels is bit-for-bit unchanged.
 * The stable logistic terms are spelt out again rather than shared through a helper: this is the
 * trainer's per-row inner loop, where a helper returning four values would allocate per row.
 */
export function softEsmmLoss(
  a: Float32Array,
  b: Float32Array,
  clickTarget: Float32Array,
  clickPurchaseTarget: Float32Array,
  rows: number,
  dA: Float32Array,
  dB: Float32Array,
): number {
  const scale = 1 / rows;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const za = a[r]!;
    const zb = b[r]!;
    const ea = Math.exp(-Math.abs(za));
    const p = za >= 0 ? 1 / (1 + ea) : ea / (1 + ea);
    const pNeg = za >= 0 ? ea / (1 + ea) : 1 / (1 + ea);
    const log1pEa = Math.log1p(ea);
    const logP = za >= 0 ? -log1pEa : za - log1pEa;
    const logPNeg = za >= 0 ? -za - log1pEa : -log1pEa;
    const eb = Math.exp(-Math.abs(zb));
    const rr = zb >= 0 ? 1 / (1 + eb) : eb / (1 + eb);
    const rNeg = zb >= 0 ? eb / (1 + eb) : 1 / (1 + eb);
    const log1pEb = Math.log1p(eb);
    const logR = zb >= 0 ? -log1pEb : zb - log1pEb;
    const y = clickTarget[r]!;
    const t = clickPurchaseTarget[r]!;
    const q = p * rr;
    const qNeg = pNeg + p * rNeg;
    // d/dq of BCE(t, q) times dq/dza = q (1 - p) and dq/dzb = q (1 - r), with q cancelled.
    const g = (q - t) / qNeg;
    total += -(y * logP + (1 - y) * logPNeg) - (t * (logP + logR) + (1 - t) * Math.log(qNeg));
    dA[r] = (p - y + g * pNeg) * scale;
    dB[r] = g * rNeg * scale;
  }
  return total;
}
