// Assembles labelled slates into the trainer's columnar TrainingSet through the same
// FeatureAssembler the worker uses: what the model trains on is what it will be served.
import { FeatureAssembler } from '../features/assemble.ts';
import type { Manifest } from '../features/manifest.ts';
import type { TrainingSet } from '../train/types.ts';
import type { LabelledSlate } from './slates.ts';

/** The manifest's inputs the reference network takes: int32 `cat` and float32 `num`. */
export function referenceInputs(manifest: Manifest): { cat: string[]; num: string[] } {
  const cat = manifest.inputs.find((i) => i.name === 'cat');
  const num = manifest.inputs.find((i) => i.name === 'num');
  if (!cat || cat.dtype !== 'int32' || !num || num.dtype !== 'float32' || manifest.inputs.length !== 2) {
    throw new Error('the reference network needs exactly two inputs: cat (int32) and num (float32)');
  }
  return { cat: cat.features, num: num.features };
}

/** Embedding rows per categorical field: the vocabulary (or buckets) plus index 0 for unknown. */
export function vocabSizes(manifest: Manifest): number[] {
  const { cat } = referenceInputs(manifest);
  return cat.map((name) => {
    const spec = manifest.features.find((f) => f.name === name);
    if (!spec || spec.kind !== 'categorical') throw new Error(`cat input names ${name}, which is not categorical`);
    return 1 + (spec.vocab ? spec.vocab.length : spec.hash_buckets!);
  });
}

/** A zeroed TrainingSet of `rows` rows for the manifest's reference inputs. */
export function emptyTrainingSet(manifest: Manifest, rows: number): TrainingSet {
  const { cat, num } = referenceInputs(manifest);
  return {
    cat: new Int32Array(rows * cat.length),
    num: new Float32Array(rows * num.length),
    click: new Uint8Array(rows),
    purchase: new Uint8Array(rows),
    position: new Int32Array(rows),
    vocabSizes: vocabSizes(manifest),
  };
}

export function assembleTrainingSet(manifest: Manifest, slates: readonly LabelledSlate[]): TrainingSet {
  const { cat: catNames, num: numNames } = referenceInputs(manifest);
  const rows = slates.reduce((n, s) => n + s.items.length, 0);
  const C = catNames.length;
  const D = numNames.length;
  const set = emptyTrainingSet(manifest, rows);
  const assembler = new FeatureAssembler(manifest);
  const buffers = [
    { name: 'cat', dtype: 'int32' as const, width: C, data: set.cat },
    { name: 'num', dtype: 'float32' as const, width: D, data: set.num },
  ];
  const ordered = manifest.inputs[0]!.name === 'cat' ? buffers : [buffers[1]!, buffers[0]!];
  let row = 0;
  for (const slate of slates) {
    assembler.fill(slate, ordered, row);
    set.click.set(slate.clicks, row);
    set.purchase.set(slate.purchases, row);
    set.position.set(slate.positions, row);
    row += slate.items.length;
  }
  return set;
}
