// `npm run eval -- --dataset expedia-icdm2013 --model <dir>` on a small model trained here: the
// eval+test splits (149 slates), the same NDCG as train-dataset's own evaluation, and the JSON
// contract without the world's fields.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDatasetSchema } from '../../model/data/dataset-schema.ts';
import { evaluateDatasetArtifact, evaluationSplits } from '../../model/eval/evaluate-dataset.ts';
import type { EvalReport } from '../../model/eval/offline-eval.ts';
import { renderReport } from '../../model/eval/report/render.ts';
import { evalSummary } from '../../model/eval/summary.ts';
import { trainDataset, type TrainedDatasetModel } from '../../model/pipeline/train-dataset.ts';
import { hasExpedia } from './shared-data.ts';

describe.skipIf(!hasExpedia)('eval on a schema-described dataset', () => {
  let dir: string;
  let trained: TrainedDatasetModel;
  let report: EvalReport;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eval-dataset-'));
    const schema = await loadDatasetSchema('model/data/schemas/expedia-icdm2013.json');
    expect(evaluationSplits(schema)).toEqual(['eval', 'test']);
    trained = await trainDataset({
      schema,
      outDir: dir,
      evalSplits: ['eval', 'test'],
      validation: { kind: 'none' },
      seeds: [1],
      train: { epochs: 3, batchSize: 256, shape: { embeddingDim: 4, hidden: [8] }, log: null },
    });
    report = await evaluateDatasetArtifact(schema, dir, { command: 'test', log: () => {}, bootstrapSamples: 10_000 });
  }, 60_000);

  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('evaluates eval+test pooled: 149 slates', () => {
    expect(report.data.slates).toBe(149);
    expect(report.schema!.splits).toEqual(['eval', 'test']);
    expect(report.model.source).toBe('artifact');
  });

  it("agrees with train-dataset's own evaluation of the same exports", () => {
    const e = trained.evaluation!;
    const s = evalSummary(report) as any;
    expect(s.ndcg10.int8).toBe(e.int8.ndcg.mean);
    expect(s.ndcg10.fp32).toBe(e.fp32.ndcg.mean);
    expect(s.ndcg10_ci95.int8).toEqual([e.int8.ndcg.lo, e.int8.ndcg.hi]);
    expect(s.ndcg10.logged).toBe(e.baselines.logged.mean);
    expect(s.ndcg10.random).toBe(e.baselines.random.mean);
    expect(s.ndcg10.popularity).toBe(e.baselines.popularity.mean);
    expect(s.auc.ctr.int8).toBe(e.int8.ctr.auc);
    expect(s.auc.cvr.fp32).toBe(e.fp32.cvr.auc);
    expect(s.logloss.ctr.int8).toBe(e.int8.ctr.logloss);
  });

  it('gives the JSON contract, without the world fields', () => {
    const s = evalSummary(report) as any;
    expect(s.dataset).toBe('expedia-icdm2013');
    expect(s.slates).toBe(149);
    for (const name of ['int8', 'fp32', 'logged', 'random', 'popularity']) expect(typeof s.ndcg10[name]).toBe('number');
    expect(typeof s.ece.ctr.int8).toBe('number');
    expect(s.ndcg10.oracle).toBeUndefined();
    expect(s.gap_closed).toBeUndefined();
    expect(s.revenue_per_slate).toBeUndefined();
    const html = renderReport(report);
    expect(html).toContain('CVR vs logged purchases (clicked rows)');
    expect(html).not.toContain('Against the ground truth');
  });
});
