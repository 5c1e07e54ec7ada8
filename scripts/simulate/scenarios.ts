// The simulator's experiments: each scenario is an EXPERIMENTS config (worker/experiments/config.ts)
// and the arm lifts are measured against.
//
// The popularity control ranks by the items' stored click_coec (clicks over the clicks expected at
// the positions they were shown, from the impression log the backfill summarised): what a shop
// without a model does - "best sellers first" - with no price or personal signal, and no ONNX.

export const SCENARIOS = ['ab', 'aa', 'interleave'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface ScenarioConfig {
  experiments: Record<string, unknown>;
  control: string;
  /** interleaving: the arm that interleaves, and its two sides (A, B) */
  interleave?: { arm: string; a: string; b: string };
}

export function scenarioConfig(scenario: Scenario): ScenarioConfig {
  switch (scenario) {
    case 'ab':
      return {
        control: 'popularity',
        experiments: {
          experiment: 'sim-ab',
          control: 'popularity',
          arms: [
            { name: 'popularity', kind: 'popularity', share: 50, description: 'stored click_coec, descending' },
            { name: 'model', kind: 'model', share: 50, description: "the shipped model, its manifest's objective (expected revenue)" },
          ],
        },
      };
    case 'aa':
      return {
        control: 'model-a',
        experiments: {
          experiment: 'sim-aa',
          control: 'model-a',
          arms: [
            { name: 'model-a', kind: 'model', share: 50 },
            { name: 'model-b', kind: 'model', share: 50 },
          ],
        },
      };
    case 'interleave':
      return {
        control: 'popularity',
        interleave: { arm: 'interleave', a: 'model', b: 'popularity' },
        experiments: {
          experiment: 'sim-interleave',
          control: 'popularity',
          arms: [
            { name: 'model', kind: 'model', share: 0 },
            { name: 'popularity', kind: 'popularity', share: 0 },
            { name: 'interleave', kind: 'interleave', share: 100, arms: ['model', 'popularity'] },
          ],
        },
      };
  }
}
