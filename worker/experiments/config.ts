// The experiments config: arms with traffic shares, each a model + objective, a popularity order,
// or team-draft interleaving of two other arms, with optional business rules. Validated with zod
// when it loads (the error names the field: `arms[1].share: ...`), checked against the bundled
// models, and compiled once (objectives into functions, rules into predicates); nothing is parsed
// or evaluated per request. README, "Experiments", documents the format.
import { z } from 'zod';
import type { LoadedModel } from '../model/loaded-model.ts';
import type { ModelRegistry } from '../model/registry.ts';
import { armObjectiveSchema, compileObjective, type ArmObjective, type CompiledObjective } from '../rank/objective.ts';
import { compileRules, RULE_FIELD, rulesSchema, type CompiledRules, type Rules } from '../rank/rules.ts';

export const MAX_ARMS = 16;
const ARM_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const armName = z.string().regex(ARM_NAME, 'lower-case letters, digits, ".", "_" or "-", at most 64 characters');
const share = z.number().finite().min(0, 'must be >= 0').max(100, 'must be at most 100');
const modelId = z.string().min(1).max(64);
const description = z.string().max(256).optional();

const modelArmSchema = z
  .object({
    name: armName,
    kind: z.literal('model'),
    share,
    /** a bundled model id (default: the worker's default model) */
    model: modelId.optional(),
    /** default: the model manifest's objective */
    objective: armObjectiveSchema.optional(),
    rules: rulesSchema.optional(),
    description,
  })
  .strict();

/**
 * A popularity order, no model: the items' stored (or inline) value of `field` - by default
 * click_coec, the position-debiased click rate the backfill computes from the impression log -
 * descending, ties in request order; items without it score `missing` (default 0).
 */
const popularityArmSchema = z
  .object({
    name: armName,
    kind: z.literal('popularity'),
    share,
    field: z.string().regex(RULE_FIELD, 'must be a field name').optional(),
    missing: z.number().finite().min(0).optional(),
    /** whose model inputs the exposure log records for this arm (default: the default model) */
    features_model: modelId.optional(),
    rules: rulesSchema.optional(),
    description,
  })
  .strict();

/** Team-draft interleaving of two other arms inside one slate. */
const interleaveArmSchema = z
  .object({
    name: armName,
    kind: z.literal('interleave'),
    share,
    arms: z.tuple([armName, armName]),
    rules: rulesSchema.optional(),
    description,
  })
  .strict();

export const armSchema = z.discriminatedUnion('kind', [modelArmSchema, popularityArmSchema, interleaveArmSchema]);
export type ArmConfig = z.infer<typeof armSchema>;

export const experimentsConfigSchema = z
  .object({
    /** names the experiment; part of the assignment hash, so a new id reshuffles users */
    experiment: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" or "-", at most 64 characters'),
    /** the arm lifts are measured against (default: the first arm) */
    control: armName.optional(),
    /** the arm of requests with neither a user id nor a client id (default: the control arm) */
    default_arm: armName.optional(),
    arms: z.array(armSchema).min(1, 'must hold at least 1 arm').max(MAX_ARMS, `must hold at most ${MAX_ARMS} arms`),
  })
  .strict()
  .superRefine((config, ctx) => {
    const byName = new Map<string, number>();
    config.arms.forEach((arm, i) => {
      const first = byName.get(arm.name);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['arms', i, 'name'], message: `duplicate arm name '${arm.name}' (first at arms[${first}])` });
      else byName.set(arm.name, i);
    });
    const total = config.arms.reduce((sum, arm) => sum + arm.share, 0);
    if (Math.abs(total - 100) > 1e-6) ctx.addIssue({ code: 'custom', path: ['arms'], message: `shares must add up to 100, they add up to ${total}` });
    config.arms.forEach((arm, i) => {
      if (arm.kind !== 'interleave') return;
      const [a, b] = arm.arms;
      if (a === b) ctx.addIssue({ code: 'custom', path: ['arms', i, 'arms'], message: 'must name two different arms' });
      arm.arms.forEach((name, j) => {
        const target = byName.get(name);
        if (target === undefined) ctx.addIssue({ code: 'custom', path: ['arms', i, 'arms', j], message: `no arm named '${name}'` });
        else if (config.arms[target]!.kind === 'interleave') ctx.addIssue({ code: 'custom', path: ['arms', i, 'arms', j], message: `'${name}' is an interleave arm itself` });
      });
    });
    for (const key of ['control', 'default_arm'] as const) {
      const name = config[key];
      if (name !== undefined && !byName.has(name)) ctx.addIssue({ code: 'custom', path: [key], message: `no arm named '${name}'` });
    }
  });
export type ExperimentsConfig = z.infer<typeof experimentsConfigSchema>;

export class ExperimentsConfigError extends Error {}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown field(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
  return issue.message;
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? String(part) : `.${String(part)}`;
  return out || '(root)';
}

/** Parses a config (JSON text or a value); throws ExperimentsConfigError listing every bad field. */
export function parseExperimentsConfig(input: unknown, source = 'experiments config'): ExperimentsConfig {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (error) {
      throw new ExperimentsConfigError(`${source}: not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const result = experimentsConfigSchema.safeParse(value);
  if (result.success) return result.data;
  const lines = result.error.issues.slice(0, 10).map((issue) => `${formatPath(issue.path)}: ${describeIssue(issue)}`);
  throw new ExperimentsConfigError(`${source}: ${lines.join('; ')}`);
}

// ---------------------------------------------------------------------------------------------
// Compiled
// ---------------------------------------------------------------------------------------------

interface ArmBase {
  name: string;
  share: number;
  /** the arm's config rules, merged under the request's at request time */
  rules: Rules | undefined;
  /** compiled config rules alone (for requests without rules) */
  compiledRules: CompiledRules;
  /** whose inputs are assembled and logged: the scoring model, or the popularity arm's features_model */
  featureModel: LoadedModel;
}

export interface ModelArm extends ArmBase {
  kind: 'model';
  model: LoadedModel;
  objective: CompiledObjective;
}

export interface PopularityArm extends ArmBase {
  kind: 'popularity';
  field: string;
  missing: number;
}

export interface InterleaveArm extends ArmBase {
  kind: 'interleave';
  sides: [ScoringArm, ScoringArm];
}

export type ScoringArm = ModelArm | PopularityArm;
export type CompiledArm = ScoringArm | InterleaveArm;

export interface CompiledExperiments {
  /** the experiment id ('none' when no config is set) */
  experiment: string;
  arms: CompiledArm[];
  byName: Map<string, CompiledArm>;
  control: string;
  defaultArm: string;
  /** arms with a share > 0 and their cumulative share in percent, for assignment */
  assignable: Array<{ arm: CompiledArm; upTo: number }>;
  /** where it came from: 'none' (built-in default), 'var' (EXPERIMENTS) or 'kv' (config:experiments) */
  source: 'none' | 'var' | 'kv';
}

export const DEFAULT_POPULARITY_FIELD = 'click_coec';

/** Compiles a validated config against the bundled models; throws ExperimentsConfigError naming the arm. */
export function compileExperiments(config: ExperimentsConfig, registry: ModelRegistry, source: CompiledExperiments['source'], defaultModelId?: string): CompiledExperiments {
  const defaultModel = registry.default(defaultModelId);
  const modelFor = (id: string | undefined, path: string): LoadedModel => {
    if (id === undefined) return defaultModel;
    const model = registry.get(id);
    if (!model) throw new ExperimentsConfigError(`${path}: no bundled model '${id}' (bundled: ${registry.list().map((m) => m.id).join(', ')})`);
    return model;
  };
  const byName = new Map<string, CompiledArm>();
  const scoring = (arm: ArmConfig, i: number): ScoringArm | undefined => {
    if (arm.kind === 'model') {
      const model = modelFor(arm.model, `arms[${i}].model`);
      const objective: ArmObjective = arm.objective ?? model.manifest.objective;
      return { kind: 'model', name: arm.name, share: arm.share, rules: arm.rules, compiledRules: compileRules(arm.rules), featureModel: model, model, objective: compileObjective(objective) };
    }
    if (arm.kind === 'popularity') {
      return {
        kind: 'popularity',
        name: arm.name,
        share: arm.share,
        rules: arm.rules,
        compiledRules: compileRules(arm.rules),
        featureModel: modelFor(arm.features_model, `arms[${i}].features_model`),
        field: arm.field ?? DEFAULT_POPULARITY_FIELD,
        missing: arm.missing ?? 0,
      };
    }
    return undefined;
  };
  config.arms.forEach((arm, i) => {
    const compiled = scoring(arm, i);
    if (compiled) byName.set(arm.name, compiled);
  });
  config.arms.forEach((arm) => {
    if (arm.kind !== 'interleave') return;
    const sides = [byName.get(arm.arms[0]) as ScoringArm, byName.get(arm.arms[1]) as ScoringArm] as [ScoringArm, ScoringArm];
    byName.set(arm.name, { kind: 'interleave', name: arm.name, share: arm.share, rules: arm.rules, compiledRules: compileRules(arm.rules), featureModel: sides[0].featureModel, sides });
  });
  const arms = config.arms.map((arm) => byName.get(arm.name)!);
  let cumulative = 0;
  const assignable = arms.filter((arm) => arm.share > 0).map((arm) => ({ arm, upTo: (cumulative += arm.share) }));
  const control = config.control ?? arms[0]!.name;
  return { experiment: config.experiment, arms, byName, control, defaultArm: config.default_arm ?? control, assignable, source };
}

/** No config: one arm, 'default', serving the default model with its manifest's objective (issue 1's behaviour). */
export function defaultExperiments(registry: ModelRegistry, defaultModelId?: string): CompiledExperiments {
  return compileExperiments({ experiment: 'none', arms: [{ name: 'default', kind: 'model', share: 100 }] }, registry, 'none', defaultModelId);
}
