// Training-serving parity: the worker (onnxruntime-web in workerd, features assembled from KV) must
// give the same probabilities as the same ONNX model run offline in Node (onnxruntime-node) on rows
// assembled by the same feature module from the same records.
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { putAll, rank, type RankResponseBody } from './helpers.ts';

const fixture = inject('rankFixture');

/** Documented int8 tolerance (README, "Quantization"): per-probability and mean absolute error vs fp32. */
const INT8_MAX_ABS = 0.03;
const INT8_MEAN_ABS = 0.003;

describe('parity with the offline model', () => {
  let served: Map<string, { p_ctr: number; p_cvr: number }>;

  beforeAll(async () => {
    await putAll(fixture.kv);
    const body = (await (await rank(fixture.request)).json()) as RankResponseBody;
    served = new Map(body.items.map((i) => [i.id, i]));
  });

  it('matches onnxruntime-node on the int8 model within 1e-5', () => {
    let worst = 0;
    fixture.request.items.forEach((item, j) => {
      const s = served.get(item.id)!;
      worst = Math.max(worst, Math.abs(s.p_ctr - fixture.int8.p_ctr[j]!), Math.abs(s.p_cvr - fixture.int8.p_cvr[j]!));
    });
    expect(worst).toBeLessThan(1e-5);
  });

  it('keeps the int8 model within the documented tolerance of fp32', () => {
    let worst = 0;
    let sum = 0;
    let n = 0;
    for (const head of ['p_ctr', 'p_cvr'] as const) {
      fixture.int8[head].forEach((p, j) => {
        const d = Math.abs(p - fixture.fp32[head][j]!);
        worst = Math.max(worst, d);
        sum += d;
        n++;
      });
    }
    expect(worst).toBeLessThan(INT8_MAX_ABS);
    expect(sum / n).toBeLessThan(INT8_MEAN_ABS);
  });
});
