// Runs in Node before the workerd tests: builds the rank fixture (KV records + offline scores of
// the shipped model) and the bring-your-own-model fixture (models built in Node with their
// manifests and onnxruntime-node's scores of the same slate), and hands them to the tests through
// vitest's provide/inject.
import { resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { buildByoFixture, type ByoFixture } from '../fixtures/byo-models.ts';
import { buildRankFixture, type RankFixture } from '../fixtures/rank-fixture.ts';
import { shippedModels } from '../../scripts/demo/shipped-models.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    rankFixture: RankFixture;
    byoFixture: ByoFixture;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const root = resolve(import.meta.dirname, '..', '..');
  const [model] = await shippedModels(root);
  const rankFixture = await buildRankFixture(model!.dir);
  project.provide('rankFixture', rankFixture);
  project.provide('byoFixture', await buildByoFixture(rankFixture));
}
