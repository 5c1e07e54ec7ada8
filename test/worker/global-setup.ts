// Runs in Node before the workerd tests: builds the rank fixture (KV records + offline scores of
// the shipped model) and hands it to the tests through vitest's provide/inject.
import { resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { buildRankFixture, type RankFixture } from '../fixtures/rank-fixture.ts';
import { shippedModels } from '../../scripts/demo/shipped-models.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    rankFixture: RankFixture;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const root = resolve(import.meta.dirname, '..', '..');
  const [model] = await shippedModels(root);
  project.provide('rankFixture', await buildRankFixture(model!.dir));
}
