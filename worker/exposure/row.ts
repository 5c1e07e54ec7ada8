// Builds the exposure row of a served slate (model/data/exposure-row.ts): the response's items
// with positions, scores and probabilities, the hashed unit, the arm, and the model inputs the
// feature model assembled for each served item - the exact values the model saw, so a trainer
// reading the log has no training-serving skew.
import { EXPOSURE_ROW_VERSION, type ExposureItem, type ExposureRow } from '../../model/data/exposure-row.ts';
import type { Assignment } from '../experiments/assign.ts';
import type { ServedSlate } from '../rank/rank-slate.ts';

export function exposureRow(served: ServedSlate, options: { requestId: string; ts: number; assignment: Assignment; experiment: string; unitHash: string | null }): ExposureRow {
  const { arm } = served;
  const inputs = served.inputs;
  const manifest = inputs?.model.manifest;
  const items: ExposureItem[] = served.items.map((item, j) => {
    const out: ExposureItem = { id: item.id, position: j + 1, score: item.score, p_ctr: item.p_ctr, p_cvr: item.p_cvr, price: item.price };
    if (item.arm !== undefined) out.arm = item.arm;
    if (inputs) {
      const x: Record<string, number[]> = {};
      for (const b of inputs.buffers) {
        const start = item.row * b.width;
        const values = new Array<number>(b.width);
        for (let c = 0; c < b.width; c++) values[c] = Number(b.data[start + c]!);
        x[b.name] = values;
      }
      out.x = x;
    }
    return out;
  });
  return {
    v: EXPOSURE_ROW_VERSION,
    request_id: options.requestId,
    ts: options.ts,
    unit: { kind: options.assignment.unit.kind, hash: options.unitHash },
    experiment: options.experiment,
    arm: arm.name,
    arm_kind: arm.kind,
    ...(arm.kind === 'interleave' ? { sides: [arm.sides[0].name, arm.sides[1].name] as [string, string] } : {}),
    override: options.assignment.override,
    model: served.model,
    features_model: manifest ? { id: manifest.model.id, version: manifest.model.version } : null,
    inputs: manifest ? manifest.inputs.map((i) => ({ name: i.name, dtype: i.dtype, features: [...i.features] })) : null,
    feature_set: served.featureSet,
    fallback: served.fallback,
    context: contextValues(served.context),
    k: served.k,
    candidates: served.candidates,
    items,
  };
}

function contextValues(context: Record<string, unknown>): ExposureRow['context'] {
  const out: ExposureRow['context'] = {};
  for (const [key, value] of Object.entries(context)) {
    if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[key] = value;
  }
  return out;
}
