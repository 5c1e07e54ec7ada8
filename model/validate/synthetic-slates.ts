// Synthetic slates for the validator's smoke run, assembled later by the real FeatureAssembler:
// one with empty records (anonymous user, no KV records, no context: every feature takes its
// default) and one with random records shaped by the manifest (known and unknown categories,
// numbers spread around each transform's mean, some fields missing, a few of the wrong type).
import type { ItemRow, SlateRecords } from '../features/assemble.ts';
import type { FeatureSpec, FieldRef, Manifest, NumericTransform } from '../features/manifest.ts';
import type { RawRecord, RawValue } from '../features/records.ts';
import { Rng } from '../world/rng.ts';

export type SlateKind = 'empty' | 'random';

export function emptySlate(rows: number): SlateRecords {
  return { context: {}, items: Array.from({ length: rows }, (_, i) => ({ id: `item-${i}` })) };
}

type Generator = (rng: Rng) => RawValue | undefined;

/** A raw value whose transformed value is roughly N(0, 1.5): the transform inverted. */
function numberFor(t: NumericTransform): Generator {
  return (rng) => {
    const v = t.mean + t.std * 1.5 * rng.normal();
    return t.log1p ? Math.expm1(Math.max(v, 0)) : v;
  };
}

function categoryFor(spec: Extract<FeatureSpec, { kind: 'categorical' }>): Generator {
  return (rng) => {
    const u = rng.uniform();
    if (spec.vocab && spec.vocab.length > 0 && u < 0.8) return spec.vocab[rng.int(spec.vocab.length)]!;
    if (u < 0.95) return `value-${rng.int(1_000_000)}`;
    return rng.int(100); // a number where a string is expected: the assembler keys it as text
  };
}

const refKey = (ref: FieldRef) => `${ref.source}.${ref.field}`;

/**
 * One generator per field the manifest reads. A field read by several features (e.g. item.price
 * as a number and as a ratio's numerator) gets the generator of the first one.
 */
function fieldGenerators(manifest: Manifest): Map<string, { ref: FieldRef; generate: Generator }> {
  const generators = new Map<string, { ref: FieldRef; generate: Generator }>();
  const add = (ref: FieldRef, generate: Generator) => {
    if (!generators.has(refKey(ref))) generators.set(refKey(ref), { ref, generate });
  };
  const categorical = new Map<string, Extract<FeatureSpec, { kind: 'categorical' }>>();
  for (const f of manifest.features) if (f.kind === 'categorical') categorical.set(refKey(f.from), f);

  for (const f of manifest.features) {
    if (f.kind === 'numeric') add(f.from, numberFor(f.transform));
    else if (f.kind === 'categorical') add(f.from, categoryFor(f));
    else if (f.op === 'log_ratio') {
      const positive: Generator = (rng) => (rng.uniform() < 0.05 ? -1 : Math.exp(3 + 1.2 * rng.normal()));
      add(f.numerator, positive);
      add(f.denominator, positive);
    } else {
      const keySpec = categorical.get(refKey(f.key));
      const keyGen = keySpec ? categoryFor(keySpec) : (rng: Rng) => `key-${rng.int(20)}`;
      add(f.key, keyGen);
      const value = numberFor(f.transform);
      add(f.map, (rng) => {
        const map: RawRecord = {};
        const n = rng.int(6);
        for (let i = 0; i < n; i++) map[String(keyGen(rng))] = value(rng) as number;
        return map;
      });
    }
  }
  return generators;
}

/** A slate of `rows` items with random records for every field the manifest reads. */
export function randomSlate(manifest: Manifest, rows: number, seed = 1): SlateRecords {
  const rng = Rng.stream(seed, `validate:${manifest.model.id}`);
  const generators = [...fieldGenerators(manifest).values()];
  const draw = (g: Generator): RawValue | undefined => {
    const u = rng.uniform();
    if (u < 0.1) return undefined; // missing: the default applies
    if (u < 0.12) return 'not-a-number'; // malformed: counted and defaulted
    return g(rng);
  };
  const user: RawRecord = {};
  const context: RawRecord = {};
  for (const { ref, generate } of generators) {
    if (ref.field === 'id') continue;
    if (ref.source === 'user') user[ref.field] = draw(generate);
    else if (ref.source === 'context') context[ref.field] = draw(generate);
  }
  const items: ItemRow[] = Array.from({ length: rows }, (_, i) => {
    const stored: RawRecord = {};
    const inline: RawRecord = {};
    for (const { ref, generate } of generators) {
      if (ref.field === 'id') continue;
      if (ref.source === 'item') stored[ref.field] = draw(generate);
      else if (ref.source === 'request') inline[ref.field] = draw(generate);
    }
    return { id: `item-${i}-${rng.int(1_000_000)}`, stored, inline };
  });
  return { userId: `user-${rng.int(1_000_000)}`, user, context, items };
}
