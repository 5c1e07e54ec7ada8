// The worker's exposure log as training data. Exposure rows (model/data/exposure-row.ts: what was
// served, where, and the model inputs the worker assembled for every served item) joined with
// outcomes (a JSONL of {request_id, item_id, clicked, purchased}, as click and purchase events
// give them) become LabelledSlates that carry the logged inputs; a TrainingSet is built directly
// from those inputs - not re-assembled from records - so training sees exactly what the worker
// saw (no training-serving skew), and a model trained on it fits the feature model's manifest as
// it is (same features, same fitted transforms, same vocabularies).
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { LabelledSlate } from '../dataset/slates.ts';
import { emptyTrainingSet, referenceInputs } from '../dataset/training-set.ts';
import type { Manifest } from '../features/manifest.ts';
import type { TrainingSet } from '../train/types.ts';
import { mergeExposureParts, type ExposureInput, type ExposureOutcome, type ExposureRow } from './exposure-row.ts';

export type { ExposureOutcome, ExposureRow } from './exposure-row.ts';

/** A served slate with its outcomes and the logged model inputs (one row per served item, in served order). */
export interface ExposureSlate extends LabelledSlate {
  arm: string;
  /** what ordered the slate (a model, or popularity) */
  model: { id: string; version: string };
  /** whose inputs `inputs` are */
  featuresModel: { id: string; version: string };
  inputs: Array<{ name: string; dtype: ExposureInput['dtype']; features: string[]; values: number[][] }>;
  /** interleaving: the arm credited with each item (null: placed by a pin) */
  teams?: Array<string | null>;
}

export interface JoinStats {
  rows: number;
  slates: number;
  impressions: number;
  clicks: number;
  purchases: number;
  /** rows left out: served as a fallback (no model inputs), or inputs of another feature model */
  skipped_no_inputs: number;
  skipped_other_model: number;
  /** split rows with a missing part */
  incomplete: number;
  /** outcomes whose request or item was not served */
  unmatched_outcomes: number;
  /** outcomes with a purchase but no click (counted as clicked) */
  purchase_without_click: number;
}

async function* jsonLines(path: string): AsyncGenerator<{ value: unknown; line: number }> {
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const text of lines) {
    n++;
    if (text.trim() === '') continue;
    try {
      yield { value: JSON.parse(text) as unknown, line: n };
    } catch (error) {
      throw new Error(`${path}: line ${n}: not JSON (${error instanceof Error ? error.message : String(error)})`);
    }
  }
}

/** Exposure rows from a JSONL file (split rows joined back). */
export async function readExposureRows(path: string): Promise<{ rows: ExposureRow[]; incomplete: number }> {
  const rows: ExposureRow[] = [];
  for await (const { value, line } of jsonLines(path)) {
    const row = value as ExposureRow;
    if (typeof row !== 'object' || row === null || row.v !== 1 || typeof row.request_id !== 'string' || !Array.isArray(row.items)) {
      throw new Error(`${path}: line ${line}: not an exposure row (v 1 with request_id and items)`);
    }
    rows.push(row);
  }
  return mergeExposureParts(rows);
}

/** Outcomes from a JSONL file of {request_id, item_id, clicked, purchased}. */
export async function readOutcomes(path: string): Promise<ExposureOutcome[]> {
  const out: ExposureOutcome[] = [];
  for await (const { value, line } of jsonLines(path)) {
    const o = value as Record<string, unknown>;
    const flag = (v: unknown) => v === 1 || v === true || v === '1';
    if (typeof o?.request_id !== 'string' || typeof o.item_id !== 'string') throw new Error(`${path}: line ${line}: needs request_id and item_id strings`);
    out.push({ request_id: o.request_id, item_id: o.item_id, clicked: flag(o.clicked) ? 1 : 0, purchased: flag(o.purchased) ? 1 : 0 });
  }
  return out;
}

export interface JoinOptions {
  /** keep only rows whose inputs are this model's (default: the feature model of most rows) */
  featuresModel?: { id: string; version: string };
}

/**
 * Joins exposure rows with outcomes into slates in served order. An item without an outcome was
 * neither clicked nor bought. Rows without model inputs (fallback orders) or with another feature
 * model's inputs are skipped and counted.
 */
export function exposureSlates(rows: readonly ExposureRow[], outcomes: Iterable<ExposureOutcome>, options: JoinOptions = {}): { slates: ExposureSlate[]; stats: JoinStats } {
  const stats: JoinStats = { rows: rows.length, slates: 0, impressions: 0, clicks: 0, purchases: 0, skipped_no_inputs: 0, skipped_other_model: 0, incomplete: 0, unmatched_outcomes: 0, purchase_without_click: 0 };
  const key = (m: { id: string; version: string }) => `${m.id}@${m.version}`;
  let wanted = options.featuresModel ? key(options.featuresModel) : undefined;
  if (wanted === undefined) {
    const counts = new Map<string, number>();
    for (const row of rows) if (row.features_model) counts.set(key(row.features_model), (counts.get(key(row.features_model)) ?? 0) + 1);
    wanted = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  }

  const byRequest = new Map<string, Map<string, ExposureOutcome>>();
  for (const o of outcomes) {
    let items = byRequest.get(o.request_id);
    if (!items) byRequest.set(o.request_id, (items = new Map()));
    items.set(o.item_id, o);
  }

  const slates: ExposureSlate[] = [];
  const used = new Set<string>();
  for (const row of rows) {
    if (!row.features_model || !row.inputs || row.items.some((i) => i.x === undefined)) {
      stats.skipped_no_inputs++;
      continue;
    }
    if (key(row.features_model) !== wanted) {
      stats.skipped_other_model++;
      continue;
    }
    const events = byRequest.get(row.request_id);
    const n = row.items.length;
    const clicks = new Uint8Array(n);
    const purchases = new Uint8Array(n);
    row.items.forEach((item, j) => {
      const o = events?.get(item.id);
      if (!o) return;
      used.add(`${row.request_id}\u0000${item.id}`);
      if (o.purchased && !o.clicked) stats.purchase_without_click++;
      clicks[j] = o.clicked || o.purchased ? 1 : 0;
      purchases[j] = o.purchased;
    });
    const slate: ExposureSlate = {
      requestId: row.request_id,
      ts: row.ts,
      userId: row.unit.hash ?? undefined,
      context: { ...row.context },
      items: row.items.map((item) => ({ id: item.id, inline: item.price === null ? {} : { price: item.price } })),
      positions: Int32Array.from(row.items, (item) => item.position),
      clicks,
      purchases,
      arm: row.arm,
      model: row.model,
      featuresModel: row.features_model,
      inputs: row.inputs.map((input) => ({ name: input.name, dtype: input.dtype, features: input.features, values: row.items.map((item) => item.x![input.name]!) })),
      ...(row.items.some((i) => i.arm !== undefined) ? { teams: row.items.map((i) => i.arm ?? null) } : {}),
    };
    slates.push(slate);
    stats.slates++;
    stats.impressions += n;
    for (let j = 0; j < n; j++) {
      stats.clicks += clicks[j]!;
      stats.purchases += purchases[j]!;
    }
  }
  for (const [requestId, items] of byRequest) for (const itemId of items.keys()) if (!used.has(`${requestId}\u0000${itemId}`)) stats.unmatched_outcomes++;
  return { slates, stats };
}

/**
 * The reference network's TrainingSet straight from the logged inputs. The manifest must be the
 * one the inputs were assembled with (same input names, features in the same order), which is
 * checked; its vocabularies give the embedding sizes.
 */
export function exposureTrainingSet(manifest: Manifest, slates: readonly ExposureSlate[]): TrainingSet {
  const inputs = referenceInputs(manifest);
  const cat = { name: 'cat', features: inputs.cat };
  const num = { name: 'num', features: inputs.num };
  const rows = slates.reduce((n, s) => n + s.items.length, 0);
  const C = cat.features.length;
  const D = num.features.length;
  const set = emptyTrainingSet(manifest, rows);
  let row = 0;
  for (const slate of slates) {
    const logged = new Map(slate.inputs.map((i) => [i.name, i]));
    for (const [spec, width, target] of [
      [cat, C, set.cat],
      [num, D, set.num],
    ] as const) {
      const input = logged.get(spec.name);
      if (!input || input.features.length !== width || input.features.some((f, c) => f !== spec.features[c])) {
        throw new Error(`slate ${slate.requestId}: logged input '${spec.name}' [${input?.features.join(', ') ?? 'missing'}] is not the manifest's [${spec.features.join(', ')}]: train with the manifest of ${slate.featuresModel.id}@${slate.featuresModel.version}`);
      }
      input.values.forEach((values, j) => {
        if (values.length !== width) throw new Error(`slate ${slate.requestId}: item ${j} has ${values.length} '${spec.name}' values, expected ${width}`);
        target.set(values, (row + j) * width);
      });
    }
    set.click.set(slate.clicks, row);
    set.purchase.set(slate.purchases, row);
    set.position.set(slate.positions, row);
    row += slate.items.length;
  }
  // An index outside a field's vocabulary would be a manifest mismatch the check above missed.
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < C; c++) {
      const v = set.cat[r * C + c]!;
      if (!(v >= 0 && v < set.vocabSizes[c]!)) throw new Error(`row ${r}: categorical ${cat.features[c]} = ${v} is outside its vocabulary of ${set.vocabSizes[c]}`);
    }
  }
  return set;
}

/** Whole slates split by served time: the first (1 - fraction) for training, the rest held out. */
export function splitByTime<T extends { ts: number; requestId: string }>(slates: readonly T[], holdoutFraction: number): { train: T[]; holdout: T[] } {
  if (!(holdoutFraction > 0 && holdoutFraction < 1)) throw new Error(`holdout fraction must be in (0, 1), got ${holdoutFraction}`);
  const sorted = [...slates].sort((a, b) => a.ts - b.ts || (a.requestId < b.requestId ? -1 : a.requestId > b.requestId ? 1 : 0));
  const cut = Math.max(1, Math.min(sorted.length - 1, Math.round(sorted.length * (1 - holdoutFraction))));
  return { train: sorted.slice(0, cut), holdout: sorted.slice(cut) };
}
