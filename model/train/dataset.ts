// Shape checks and zero-copy slicing of a TrainingSet.
import type { TrainingSet } from './types.ts';

export function rowCount(set: TrainingSet): number {
  return set.click.length;
}

/** D, inferred from num.length / N. */
export function numericDimOf(set: TrainingSet): number {
  const n = rowCount(set);
  return n === 0 ? 0 : set.num.length / n;
}

/**
 * Throws an Error naming the first inconsistency: lengths that do not agree, an index outside its
 * field's vocabulary, a purchase without a click, a position below 1.
 */
export function validateTrainingSet(set: TrainingSet, name = 'training set'): void {
  const n = rowCount(set);
  const c = set.vocabSizes.length;
  const fail = (message: string): never => {
    throw new Error(`${name}: ${message}`);
  };
  if (c === 0) fail('vocabSizes is empty');
  set.vocabSizes.forEach((v, f) => {
    if (!Number.isInteger(v) || v < 1) fail(`vocabSizes[${f}] = ${v} is not a positive integer`);
  });
  if (set.cat.length !== n * c) fail(`cat has ${set.cat.length} values, expected N*C = ${n}*${c}`);
  if (n > 0 && set.num.length % n !== 0) fail(`num has ${set.num.length} values, not a multiple of N = ${n}`);
  if (set.purchase.length !== n) fail(`purchase has ${set.purchase.length} rows, expected ${n}`);
  if (set.position.length !== n) fail(`position has ${set.position.length} rows, expected ${n}`);
  for (let i = 0; i < set.cat.length; i++) {
    const v = set.cat[i]!;
    const f = i % c;
    if (v < 0 || v >= set.vocabSizes[f]!) fail(`cat[row ${Math.floor(i / c)}, field ${f}] = ${v} is outside 0..${set.vocabSizes[f]! - 1}`);
  }
  for (let i = 0; i < n; i++) {
    if (set.click[i]! > 1 || set.purchase[i]! > 1) fail(`row ${i}: click and purchase must be 0 or 1`);
    if (set.purchase[i] && !set.click[i]) fail(`row ${i}: purchase without click`);
    if (set.position[i]! < 1) fail(`row ${i}: position ${set.position[i]} is below 1`);
  }
  if (set.targets) {
    const { click, clickPurchase } = set.targets;
    if (click.length !== n || clickPurchase.length !== n) fail(`targets have ${click.length} and ${clickPurchase.length} rows, expected ${n}`);
    for (let i = 0; i < n; i++) {
      const c = click[i]!;
      const b = clickPurchase[i]!;
      if (!(c >= 0 && c <= 1) || !(b >= 0 && b <= c)) fail(`row ${i}: soft targets must satisfy 0 <= click-and-purchase <= click <= 1, got ${b} and ${c}`);
    }
  }
  for (let i = 0; i < set.num.length; i++) {
    if (!Number.isFinite(set.num[i]!)) fail(`num[row ${Math.floor(i / (set.num.length / n))}] is not finite`);
  }
}

/** Rows [start, end) as views (no copy). */
export function sliceRows(set: TrainingSet, start: number, end: number): TrainingSet {
  const c = set.vocabSizes.length;
  const d = numericDimOf(set);
  return {
    cat: set.cat.subarray(start * c, end * c),
    num: set.num.subarray(start * d, end * d),
    click: set.click.subarray(start, end),
    purchase: set.purchase.subarray(start, end),
    position: set.position.subarray(start, end),
    vocabSizes: set.vocabSizes,
    ...(set.targets ? { targets: { click: set.targets.click.subarray(start, end), clickPurchase: set.targets.clickPurchase.subarray(start, end) } } : {}),
  };
}

/**
 * Holds out the last `fraction` of the rows. The tail, not a random sample: logged impressions
 * usually arrive in time order, and validating on the most recent rows is the honest split.
 */
export function splitTail(set: TrainingSet, fraction: number): { train: TrainingSet; validation: TrainingSet } {
  const n = rowCount(set);
  const cut = n - Math.round(n * fraction);
  return { train: sliceRows(set, 0, cut), validation: sliceRows(set, cut, n) };
}
