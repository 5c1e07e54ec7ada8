// Raw record values into numbers and keys, for the encoders of assemble.ts and table-cross.ts.
import type { NumericTransform } from './manifest.ts';
import type { RawValue } from './records.ts';

/** Why a value was replaced by its default; counted so a dashboard can see bad data arrive. */
export interface FeatureQualityCounters {
  /** present but of the wrong type, or not a finite number */
  invalid: number;
}

/** A number as a feature reads it: booleans as 0/1, missing as `fallback`, anything else counted and `fallback`. */
export function numberOf(v: RawValue | undefined, fallback: number, counters: FeatureQualityCounters): number {
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  counters.invalid++;
  return fallback;
}

/** A lookup key as a feature reads it: strings, finite numbers and booleans as text; anything else counted and undefined. */
export function keyOf(v: RawValue | undefined, counters: FeatureQualityCounters): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  counters.invalid++;
  return undefined;
}

/**
 * A numeric transform compiled for one feature: (clip(log1p?(max(x, 0))) - mean) / std, with the
 * constants captured once instead of read from the spec for every value.
 */
export function compileTransform(t: NumericTransform): (x: number) => number {
  const { mean, std } = t;
  if (t.clip) {
    const [lo, hi] = t.clip;
    if (t.log1p) {
      return (x) => {
        const v = Math.log1p(x > 0 ? x : 0);
        return ((v < lo ? lo : v > hi ? hi : v) - mean) / std;
      };
    }
    return (x) => ((x < lo ? lo : x > hi ? hi : x) - mean) / std;
  }
  if (t.log1p) return (x) => (Math.log1p(x > 0 ? x : 0) - mean) / std;
  return (x) => (x - mean) / std;
}
