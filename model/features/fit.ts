// Fits the data-dependent parts of a feature list: categorical vocabularies (where the template
// leaves `vocab: []`) and the mean/std of every numeric and cross feature (after log1p/clip). The
// statistics are taken through the same assembler the worker runs, so fitted constants describe
// exactly the values the model will see.
import { FeatureAssembler, resolve, type SlateRecords } from './assemble.ts';
import type { FeatureSpec, Manifest, ModelInput } from './manifest.ts';

export interface FitOptions {
  /** values seen fewer times than this map to the unknown index 0 */
  minCount: number;
  /** keep at most this many of the most frequent values */
  maxVocab: number;
}

const DEFAULT_FIT: FitOptions = { minCount: 5, maxVocab: 10_000 };

/** Numerically stable running mean/variance (Welford). */
class RunningMoments {
  count = 0;
  mean = 0;
  private m2 = 0;
  add(x: number): void {
    this.count++;
    const delta = x - this.mean;
    this.mean += delta / this.count;
    this.m2 += delta * (x - this.mean);
  }
  std(): number {
    return this.count > 1 ? Math.sqrt(this.m2 / (this.count - 1)) : 0;
  }
}

export function fitFeatures(
  template: { features: FeatureSpec[]; inputs: ModelInput[] },
  slates: Iterable<SlateRecords>,
  options: Partial<FitOptions> = {},
): FeatureSpec[] {
  const { minCount, maxVocab } = { ...DEFAULT_FIT, ...options };
  const toFit = template.features.filter((f) => f.kind === 'categorical' && f.vocab !== undefined && f.vocab.length === 0);
  const counts = new Map<string, Map<string, number>>(toFit.map((f) => [f.name, new Map()]));

  // Standardisation is fitted on the values the template's own transforms produce (mean 0, std 1).
  const numericNames = template.features.filter((f) => f.kind !== 'categorical').map((f) => f.name);
  const probe: Manifest = {
    manifest_version: 1,
    model: { id: 'fit-probe', version: '0' },
    feature_set: { schema: 'fit' },
    files: { model: 'none' },
    features: template.features.map((f) => (f.kind === 'numeric' || f.kind === 'cross' ? { ...f, transform: { ...f.transform, mean: 0, std: 1 } } : f)),
    inputs: [{ name: 'numeric', dtype: 'float32', features: numericNames }],
    outputs: { p_ctr: { name: 'p_ctr' }, p_cvr: { name: 'p_cvr' } },
    objective: { kind: 'ctr' },
  };
  const assembler = new FeatureAssembler(probe);
  const moments = numericNames.map(() => new RunningMoments());
  let buffers = assembler.allocate(64);

  for (const slate of slates) {
    for (const f of toFit) {
      if (f.kind !== 'categorical') continue;
      const table = counts.get(f.name)!;
      for (let r = 0; r < slate.items.length; r++) {
        const v = resolve(f.from, slate, r);
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
          const key = String(v);
          table.set(key, (table.get(key) ?? 0) + 1);
        }
      }
    }
    if (numericNames.length > 0) {
      if (buffers[0]!.data.length < slate.items.length * numericNames.length) buffers = assembler.allocate(slate.items.length * 2);
      assembler.fill(slate, buffers);
      const data = buffers[0]!.data as Float32Array;
      for (let r = 0; r < slate.items.length; r++) {
        for (let c = 0; c < numericNames.length; c++) moments[c]!.add(data[r * numericNames.length + c]!);
      }
    }
  }

  return template.features.map((f): FeatureSpec => {
    if (f.kind === 'categorical') {
      const table = counts.get(f.name);
      if (!table) return f;
      const vocab = [...table.entries()]
        .filter(([, n]) => n >= minCount)
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .slice(0, maxVocab)
        .map(([value]) => value);
      return { ...f, vocab };
    }
    const m = moments[numericNames.indexOf(f.name)]!;
    const std = m.std();
    // A constant column standardises to 0 rather than dividing by zero.
    return { ...f, transform: { ...f.transform, mean: round6(m.mean), std: std > 1e-6 ? round6(std) : 1 } };
  });
}

function round6(x: number): number {
  return Number(x.toPrecision(6));
}
