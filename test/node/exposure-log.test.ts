// Exposure log -> training data: rows built by the worker's own row builder (worker/exposure/row.ts)
// from inputs assembled by the shared FeatureAssembler, through JSON, split into queue-sized parts
// and joined back, joined with outcomes into LabelledSlates, and into a TrainingSet that must equal,
// bit for bit, what the trainer's own assembly of the same slates gives: no training-serving skew.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exposureSlates, exposureTrainingSet, readExposureRows, readOutcomes, splitByTime } from '../../model/data/exposure-log.ts';
import { mergeExposureParts, splitExposure, type ExposureOutcome, type ExposureRow } from '../../model/data/exposure-row.ts';
import type { LabelledSlate } from '../../model/dataset/slates.ts';
import { assembleTrainingSet } from '../../model/dataset/training-set.ts';
import { FeatureAssembler, type SlateRecords } from '../../model/features/assemble.ts';
import { parseManifest } from '../../model/features/manifest.ts';
import { contextRecord, type RawRecord } from '../../model/features/records.ts';
import { trainOnExposures } from '../../model/pipeline/train-exposures.ts';
import { createWorld, Rng, worldSettings } from '../../model/world/index.ts';
import type { Assignment } from '../../worker/experiments/assign.ts';
import type { CompiledArm } from '../../worker/experiments/config.ts';
import { exposureRow } from '../../worker/exposure/row.ts';
import type { LoadedModel } from '../../worker/model/loaded-model.ts';
import type { ServedSlate } from '../../worker/rank/rank-slate.ts';

const manifest = parseManifest(JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'model', 'artifacts', 'commerce-mtl', 'manifest.json'), 'utf8')));
const world = createWorld(worldSettings('tiny'));
const assembler = new FeatureAssembler(manifest);

interface Simulated {
  row: ExposureRow;
  slate: LabelledSlate;
  outcomes: ExposureOutcome[];
}

/** A served slate of the tiny world: records from its tables, a served order, inputs as the worker assembles them. */
function simulate(i: number, rng: Rng): Simulated {
  const req = world.sampleRequest(rng);
  const userId = world.userId(req.userIndex);
  const profile = world.userProfile(req.userIndex);
  const user: RawRecord = { segment: profile.segment, loyalty_tier: profile.loyalty_tier, tenure_days: profile.tenure_days, click_coec: 1 + (i % 3) / 10 };
  const requestItems = Array.from(req.candidates, (item) => {
    const c = world.catalogItem(item);
    return { id: c.item_id, stored: { category: c.category, brand: c.brand, price: c.price, rating: c.rating, age_days: c.age_days } as RawRecord, inline: { price: Math.round(c.price * 90) / 100 } as RawRecord };
  });
  const context = contextRecord({ device: req.context.device, page: req.context.page, time: req.context.ts }, new Date(req.context.ts));
  const slateRecords: SlateRecords = { userId, user, context, items: requestItems };
  const buffers = assembler.allocate(requestItems.length);
  assembler.fill(slateRecords, buffers);
  // served: every other candidate, reversed (any order the ranker chose), top 8
  const rows = requestItems.map((_, r) => r).filter((r) => r % 2 === 0).reverse().slice(0, 8);
  const served: ServedSlate = {
    arm: { name: 'model', kind: 'model' } as CompiledArm,
    model: { id: manifest.model.id, version: manifest.model.version },
    featureSet: 'fs-x',
    fallback: null,
    context,
    candidates: requestItems.length,
    k: 8,
    items: rows.map((r, j) => ({ row: r, id: requestItems[r]!.id, score: 10 - j, p_ctr: 0.1, p_cvr: 0.2, price: requestItems[r]!.inline.price as number })),
    inputs: { model: { manifest } as LoadedModel, buffers },
  };
  const assignment: Assignment = { arm: served.arm, unit: { kind: 'user', id: userId }, bucket: 1, override: false };
  const row = exposureRow(served, { requestId: `req-${i}`, ts: req.context.ts, assignment, experiment: 'exp', unitHash: `hash-${i}` });
  // outcomes: the first served item clicked, the second bought (and so clicked)
  const outcomes: ExposureOutcome[] = [
    { request_id: row.request_id, item_id: row.items[0]!.id, clicked: 1, purchased: 0 },
    { request_id: row.request_id, item_id: row.items[1]!.id, clicked: 1, purchased: 1 },
  ];
  const slate: LabelledSlate = {
    requestId: row.request_id,
    ts: req.context.ts,
    userId,
    user,
    context,
    items: rows.map((r) => requestItems[r]!),
    positions: Int32Array.from(rows, (_, j) => j + 1),
    clicks: Uint8Array.from(rows, (_, j) => (j < 2 ? 1 : 0)),
    purchases: Uint8Array.from(rows, (_, j) => (j === 1 ? 1 : 0)),
  };
  return { row, slate, outcomes };
}

const rng = Rng.stream(3, 'exposure-log-test');
const simulated = Array.from({ length: 40 }, (_, i) => simulate(i, rng));

describe('exposure log -> LabelledSlates -> TrainingSet', () => {
  it('a row carries the served items with positions and the assembled inputs, never the raw user id', () => {
    const { row, slate } = simulated[0]!;
    expect(row.items.map((i) => i.position)).toEqual(row.items.map((_, j) => j + 1));
    expect(row.inputs!.map((i) => [i.name, i.features.length])).toEqual(manifest.inputs.map((i) => [i.name, i.features.length]));
    expect(row.unit).toEqual({ kind: 'user', hash: 'hash-0' });
    expect(JSON.stringify(row)).not.toContain(`"${slate.userId}"`);
  });

  it('splits big rows into parts under the limit and joins them back exactly', () => {
    const { row } = simulated[1]!;
    const parts = splitExposure(row, 1_500);
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts) expect(part.part!.count).toBe(parts.length);
    const { rows, incomplete } = mergeExposureParts(JSON.parse(JSON.stringify([...parts].reverse())) as ExposureRow[]);
    expect(incomplete).toBe(0);
    expect(rows).toEqual([row]);
    expect(mergeExposureParts(parts.slice(1)).incomplete).toBe(1);
    expect(splitExposure(row, 1e9)).toEqual([row]);
  });

  it('round trip: JSONL files -> slates with labels -> a TrainingSet equal to the trainer\'s own assembly of the same slates', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'exposure-log-'));
    try {
      const exposures = join(dir, 'exposures.jsonl');
      const outcomesPath = join(dir, 'outcomes.jsonl');
      // one row split in parts, as a queue consumer would have written it
      const lines = simulated.flatMap((s, i) => (i === 3 ? splitExposure(s.row, 2_000) : [s.row]));
      await writeFile(exposures, lines.map((r) => JSON.stringify(r)).join('\n') + '\n');
      const outcomes = simulated.flatMap((s) => s.outcomes);
      // an outcome for an item that was not served is counted, not joined
      outcomes.push({ request_id: 'req-0', item_id: 'not-served', clicked: 1, purchased: 0 });
      await writeFile(outcomesPath, outcomes.map((o) => JSON.stringify(o)).join('\n') + '\n');

      const { rows, incomplete } = await readExposureRows(exposures);
      expect(incomplete).toBe(0);
      expect(rows).toHaveLength(simulated.length);
      const { slates, stats } = exposureSlates(rows, await readOutcomes(outcomesPath));
      expect(stats).toMatchObject({ slates: simulated.length, clicks: 2 * simulated.length, purchases: simulated.length, unmatched_outcomes: 1, skipped_no_inputs: 0, skipped_other_model: 0 });

      const byId = new Map(slates.map((s) => [s.requestId, s]));
      const ordered = simulated.map((s) => byId.get(s.row.request_id)!);
      const fromLog = exposureTrainingSet(manifest, ordered);
      const reassembled = assembleTrainingSet(manifest, simulated.map((s) => s.slate));
      expect(fromLog.cat).toEqual(reassembled.cat);
      expect(fromLog.num).toEqual(reassembled.num);
      expect(fromLog.click).toEqual(reassembled.click);
      expect(fromLog.purchase).toEqual(reassembled.purchase);
      expect(fromLog.position).toEqual(reassembled.position);
      expect(fromLog.vocabSizes).toEqual(reassembled.vocabSizes);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('skips rows without inputs (fallback orders) and rows of another feature model; refuses a mismatched manifest', () => {
    const [a, b, c] = simulated;
    const fallback: ExposureRow = { ...a!.row, request_id: 'fb', features_model: null, inputs: null, items: a!.row.items.map(({ x: _x, ...rest }) => rest) };
    const other: ExposureRow = { ...b!.row, request_id: 'other', features_model: { id: 'other', version: '1' } };
    const { slates, stats } = exposureSlates([fallback, other, c!.row, a!.row], []);
    expect(slates.map((s) => s.requestId)).toEqual([c!.row.request_id, a!.row.request_id]);
    expect(stats.skipped_no_inputs).toBe(1);
    expect(stats.skipped_other_model).toBe(1);
    const shuffled = { ...manifest, inputs: [manifest.inputs[1]!, manifest.inputs[0]!].map((i) => ({ ...i, features: [...i.features].reverse() })) };
    expect(() => exposureTrainingSet(shuffled, slates)).toThrow(/logged input 'cat' .* is not the manifest's/);
  });

  it('trains a servable model on the logged inputs with the feature model\'s manifest', () => {
    const { slates } = exposureSlates(
      simulated.map((s) => s.row),
      simulated.flatMap((s) => s.outcomes),
    );
    const { train, holdout } = splitByTime(slates, 0.25);
    expect(train.length + holdout.length).toBe(slates.length);
    expect(Math.max(...train.map((s) => s.ts))).toBeLessThanOrEqual(Math.min(...holdout.map((s) => s.ts)));
    const trained = trainOnExposures(manifest, train, holdout, { modelId: 'retrained', train: { epochs: 1, log: null, shape: { hidden: [8], embeddingDim: 4 } }, provenance: { test: true } });
    expect(trained.manifest.model.id).toBe('retrained');
    expect(trained.manifest.features).toEqual(manifest.features);
    expect(trained.manifest.inputs).toEqual(manifest.inputs);
    expect(trained.int8.byteLength).toBeGreaterThan(100);
    expect(trained.trainSet.click.length).toBe(train.reduce((n, s) => n + s.items.length, 0));
    // The feature model's recipe is kept: it was distilled from teachers, so is the retrained one.
    const recipe = (manifest.training as { distillation: { teachers: number } }).distillation;
    expect(recipe.teachers).toBeGreaterThan(0);
    expect((trained.manifest.training as { distillation?: { teachers: number; teacher_best_epochs: number[] } }).distillation).toMatchObject({ teachers: recipe.teachers, teacher_best_epochs: Array(recipe.teachers).fill(1) });
    const plain = trainOnExposures(manifest, train, holdout, { modelId: 'plain', train: { epochs: 1, log: null, shape: { hidden: [8], embeddingDim: 4 } }, distill: { teachers: 0, hardLabelWeight: 0 }, provenance: { test: true } });
    expect((plain.manifest.training as { distillation?: unknown }).distillation).toBeUndefined();
    expect(plain.manifest.model.version).not.toBe(trained.manifest.model.version);
  });
});
