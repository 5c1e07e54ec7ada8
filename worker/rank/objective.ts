// Turns model probabilities into the score the slate is ordered by. Objectives are data (validated
// in the manifest or the experiments config), compiled once into a function over typed arrays;
// nothing is evaluated from strings at request time.
//
//   ctr               p_ctr
//   ctcvr             p_ctr x p_cvr
//   expected_revenue  p_ctr x p_cvr x price^price_exponent
//   blend             w_ctr x p_ctr + w_ctcvr x p_ctr x p_cvr + w_rev x p_ctr x p_cvr x price^price_exponent
//
// Weights are non-negative, so every score is >= 0 and a boost or bury (a multiplier, rules.ts)
// moves an item the way its name says.
import { z } from 'zod';
import { objectiveSchema, type Objective } from '../../model/features/manifest.ts';

const weight = z.number().finite().min(0, 'must be >= 0').max(1e6, 'must be at most 1e6');

/** A weighted blend of click, purchase and revenue expectations. */
export const blendObjectiveSchema = z
  .object({
    kind: z.literal('blend'),
    w_ctr: weight.default(0),
    w_ctcvr: weight.default(0),
    w_rev: weight.default(0),
    price_exponent: z.number().min(0).max(2).default(1),
  })
  .strict()
  .refine((o) => o.w_ctr > 0 || o.w_ctcvr > 0 || o.w_rev > 0, { message: 'a blend needs at least one weight > 0 (w_ctr, w_ctcvr or w_rev)' });

/** What an experiment arm may declare: the manifest's objectives plus a blend. */
export const armObjectiveSchema = z.discriminatedUnion('kind', [...objectiveSchema.options, blendObjectiveSchema]);
export type ArmObjective = Objective | z.infer<typeof blendObjectiveSchema>;

/** The score parts of one row, for explain output. */
export interface ScoreParts {
  p_ctr: number;
  p_cvr: number;
  /** the price the objective used (the slate's median known price when the item has none), or null if unused */
  price: number | null;
  /** the objective's value before rule multipliers */
  objective: number;
}

export interface CompiledObjective {
  readonly spec: ArmObjective;
  /** whether the score reads the price (then missing prices are filled with the slate's median) */
  readonly usesPrice: boolean;
  /** writes one score per row into `out` (length n) */
  score(pCtr: Float32Array, pCvr: Float32Array, prices: Float64Array, out: Float64Array): void;
  /** the price the objective used for each row (after filling missing ones); undefined when unused */
  effectivePrices(prices: Float64Array): Float64Array | undefined;
}

/** Fills NaN prices with the median known price of the slate (1 when none is known). */
function filledPrices(prices: Float64Array): Float64Array {
  let fill = Number.NaN;
  let out: Float64Array | undefined;
  for (let i = 0; i < prices.length; i++) {
    if (!Number.isFinite(prices[i]!)) {
      // The median is only needed when a price is missing (most slates carry every price).
      if (Number.isNaN(fill)) fill = medianKnown(prices);
      out ??= Float64Array.from(prices);
      out[i] = fill;
    }
  }
  return out ?? prices;
}

/** Compiles a validated objective into a scoring function (once per manifest or arm, not per request). */
export function compileObjective(spec: ArmObjective): CompiledObjective {
  switch (spec.kind) {
    case 'ctr':
      return {
        spec,
        usesPrice: false,
        score(pCtr, _pCvr, _prices, out) {
          for (let i = 0; i < out.length; i++) out[i] = pCtr[i]!;
        },
        effectivePrices: () => undefined,
      };
    case 'ctcvr':
      return {
        spec,
        usesPrice: false,
        score(pCtr, pCvr, _prices, out) {
          for (let i = 0; i < out.length; i++) out[i] = pCtr[i]! * pCvr[i]!;
        },
        effectivePrices: () => undefined,
      };
    case 'expected_revenue': {
      const a = spec.price_exponent;
      return {
        spec,
        usesPrice: true,
        score(pCtr, pCvr, prices, out) {
          const p = filledPrices(prices);
          for (let i = 0; i < out.length; i++) out[i] = pCtr[i]! * pCvr[i]! * Math.pow(p[i]!, a);
        },
        effectivePrices: filledPrices,
      };
    }
    case 'blend': {
      const { w_ctr: wc, w_ctcvr: wcc, w_rev: wr, price_exponent: a } = spec;
      const usesPrice = wr > 0;
      return {
        spec,
        usesPrice,
        score(pCtr, pCvr, prices, out) {
          const p = usesPrice ? filledPrices(prices) : prices;
          for (let i = 0; i < out.length; i++) {
            const ctr = pCtr[i]!;
            const ctcvr = ctr * pCvr[i]!;
            out[i] = wc * ctr + wcc * ctcvr + (usesPrice ? wr * ctcvr * Math.pow(p[i]!, a) : 0);
          }
        },
        effectivePrices: (prices) => (usesPrice ? filledPrices(prices) : undefined),
      };
    }
  }
}

const compiledManifestObjectives = new WeakMap<object, CompiledObjective>();

/**
 * Scores every row. `prices` may hold NaN for items without a known price: they get the median of
 * the slate's known prices, so a missing price neither wins nor loses by itself.
 */
export function objectiveScores(objective: ArmObjective, pCtr: Float32Array, pCvr: Float32Array, prices: Float64Array): Float64Array {
  let compiled = compiledManifestObjectives.get(objective);
  if (!compiled) compiledManifestObjectives.set(objective, (compiled = compileObjective(objective)));
  const scores = new Float64Array(pCtr.length);
  compiled.score(pCtr, pCvr, prices, scores);
  return scores;
}

function medianKnown(values: Float64Array): number {
  const known = values.filter((v) => Number.isFinite(v)).sort(); // a typed array sorts numerically
  if (known.length === 0) return 1;
  const mid = known.length >> 1;
  return known.length % 2 ? known[mid]! : (known[mid - 1]! + known[mid]!) / 2;
}

/** Row indices by descending score; ties keep request order. */
export function orderByScore(scores: Float64Array): number[] {
  const n = scores.length;
  const order: number[] = new Array<number>(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => scores[b]! - scores[a]! || a - b);
  return order;
}

/** Parses an arm's objective; throws an Error naming the bad field (`<where>.<field>: message`). */
export function parseArmObjective(value: unknown, where = 'objective'): ArmObjective {
  const result = armObjectiveSchema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = [where, ...issue.path.map(String)].join('.');
  throw new Error(`${path}: ${issue.message}`);
}
