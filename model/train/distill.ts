// Distillation: several networks trained with different seeds (teachers) average their logits on
// the training rows, and one network of the served shape (the student) is trained on those soft
// targets. Averaging seeds removes much of one network's variance, which is what limits a ranker
// trained on a million impressions; the student carries most of that gain into a single network,
// so serving pays for one model, not K (merging K networks into one graph, ensemble.ts, costs K
// times the width at every request).
import { sigmoid } from './loss.ts';
import { loggedLogits } from './predict.ts';
import { train, type TrainOptions, type TrainResult } from './trainer.ts';
import type { RankerModel, SoftTargets, TrainingSet } from './types.ts';

/**
 * Soft targets from the teachers' mean logits on `set` (CTR at the logged position, so the student
 * learns the same position split), mixed with the logged labels:
 * target = hardLabelWeight x label + (1 - hardLabelWeight) x teachers' probability.
 */
export function teacherTargets(teachers: readonly RankerModel[], set: TrainingSet, hardLabelWeight: number): SoftTargets {
  if (teachers.length === 0) throw new Error('distillation needs at least one teacher');
  if (!(hardLabelWeight >= 0 && hardLabelWeight <= 1)) throw new Error(`hardLabelWeight must be in [0, 1], got ${hardLabelWeight}`);
  const rows = set.click.length;
  const ctr = new Float64Array(rows);
  const cvr = new Float64Array(rows);
  for (const teacher of teachers) {
    const logits = loggedLogits(teacher, set);
    for (let i = 0; i < rows; i++) {
      ctr[i] = ctr[i]! + logits.ctr[i]!;
      cvr[i] = cvr[i]! + logits.cvr[i]!;
    }
  }
  const k = teachers.length;
  const soft = 1 - hardLabelWeight;
  const click = new Float32Array(rows);
  const clickPurchase = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    const pClick = sigmoid(ctr[i]! / k);
    const pBoth = pClick * sigmoid(cvr[i]! / k);
    click[i] = hardLabelWeight * set.click[i]! + soft * pClick;
    // Math.min: float32 rounding must not put P(click and purchase) above P(click).
    clickPurchase[i] = Math.min(click[i]!, hardLabelWeight * (set.click[i]! & set.purchase[i]!) + soft * pBoth);
  }
  return { click, clickPurchase };
}

export interface DistillOptions {
  /** networks trained first (seeds seed+1 .. seed+teachers) whose mean logits the served one learns; 0: logged labels only */
  teachers: number;
  /** weight of the logged labels in the student's targets (0: the teachers' probabilities alone) */
  hardLabelWeight: number;
  /** the teachers' early-stopping patience (default: the training options'); 1 saves an epoch per teacher */
  teacherPatience?: number;
}

export interface DistillResult {
  /** the served network: trained on the teachers' targets (or on the labels, without teachers) */
  student: TrainResult;
  teachers: TrainResult[];
  /** teachers[k] was trained with teacherSeeds[k] */
  teacherSeeds: number[];
}

/**
 * Trains `distill.teachers` networks on the logged labels, then the student on their mean
 * predictions. Teachers and student share the options (shape, epochs, early stopping on the
 * validation rows' logged labels); only the seed differs.
 */
export function trainDistilled(set: TrainingSet, options: TrainOptions, distill?: DistillOptions): DistillResult {
  const count = distill?.teachers ?? 0;
  if (!Number.isInteger(count) || count < 0) throw new Error(`teachers must be a whole number >= 0, got ${count}`);
  if (!distill || count === 0) return { student: train(set, options), teachers: [], teacherSeeds: [] };
  const seed = options.seed ?? 1;
  const teacherSeeds = Array.from({ length: count }, (_, k) => seed + k + 1);
  const log = options.log === undefined ? console.log : options.log;
  const patience = distill.teacherPatience ?? options.patience;
  const teachers = teacherSeeds.map((teacherSeed, k) => {
    const prefix = `teacher ${k + 1}/${count}: `;
    return train(set, { ...options, seed: teacherSeed, ...(patience !== undefined ? { patience } : {}), log: log ? (line) => log(prefix + line) : null });
  });
  const started = performance.now();
  const targets = teacherTargets(
    teachers.map((t) => t.model),
    set,
    distill.hardLabelWeight,
  );
  log?.(`teachers' targets for ${set.click.length} rows in ${((performance.now() - started) / 1000).toFixed(1)} s; training the served network on them`);
  return { student: train({ ...set, targets }, options), teachers, teacherSeeds };
}

/** What a manifest's training block records of a distillation (nothing without teachers). */
export function distillationRecord(distill: DistillOptions | undefined, result: DistillResult): { distillation?: Record<string, unknown> } {
  if (!distill || result.teachers.length === 0) return {};
  return { distillation: { ...distill, teacher_seeds: result.teacherSeeds, teacher_best_epochs: result.teachers.map((t) => t.bestEpoch) } };
}
