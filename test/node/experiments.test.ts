// Experiments without workerd: config validation and compilation (against a stand-in registry:
// only manifests are read), assignment (deterministic, stable, shares within tolerance), hashed
// ids, the constant-time secret comparison, and team-draft interleaving's properties.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifest, type Manifest } from '../../model/features/manifest.ts';
import { armForBucket, assignArm, BUCKET_MEMO_SIZE, bucketOf, computeBucket, hashUnit } from '../../worker/experiments/assign.ts';
import { constantTimeEqual } from '../../worker/http/secrets.ts';
import { compileExperiments, defaultExperiments, ExperimentsConfigError, parseExperimentsConfig } from '../../worker/experiments/config.ts';
import { coin, seedOf, teamDraft } from '../../worker/experiments/interleave.ts';
import type { LoadedModel } from '../../worker/model/loaded-model.ts';
import type { ModelRegistry } from '../../worker/model/registry.ts';

const shipped = parseManifest(JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'model', 'artifacts', 'commerce-mtl', 'manifest.json'), 'utf8')));

/** A registry of manifests only (compileExperiments reads ids, manifests and objectives; it never runs a model). */
function registryOf(...manifests: Manifest[]): ModelRegistry {
  const models = manifests.map((manifest) => ({ manifest, id: manifest.model.id }) as unknown as LoadedModel);
  return {
    get: (id: string) => models.find((m) => m.id === id),
    default: (preferred?: string) => models.find((m) => m.id === preferred) ?? models[0]!,
    list: () => models,
  } as unknown as ModelRegistry;
}
const registry = registryOf(shipped, { ...shipped, model: { ...shipped.model, id: 'other-model' } });

const abConfig = {
  experiment: 'exp-1',
  control: 'control',
  arms: [
    { name: 'control', kind: 'popularity', share: 50 },
    { name: 'model', kind: 'model', share: 30, objective: { kind: 'blend', w_ctr: 1, w_rev: 0.01 } },
    { name: 'model-b', kind: 'model', share: 20, model: 'other-model', rules: { diversity: { field: 'category', max: 3 } } },
    { name: 'mix', kind: 'interleave', share: 0, arms: ['model', 'control'] },
  ],
};

function configError(value: unknown): string {
  try {
    compileExperiments(parseExperimentsConfig(value, 'EXPERIMENTS'), registry, 'var');
  } catch (error) {
    expect(error).toBeInstanceOf(ExperimentsConfigError);
    return (error as Error).message;
  }
  return 'accepted';
}

describe('experiments config', () => {
  it('compiles arms: models from the registry, objectives, defaults, cumulative shares', () => {
    const compiled = compileExperiments(parseExperimentsConfig(JSON.stringify(abConfig)), registry, 'var');
    expect(compiled.arms.map((a) => [a.name, a.kind])).toEqual([
      ['control', 'popularity'],
      ['model', 'model'],
      ['model-b', 'model'],
      ['mix', 'interleave'],
    ]);
    const control = compiled.byName.get('control')!;
    expect(control.kind === 'popularity' && control.field).toBe('click_coec');
    const model = compiled.byName.get('model')!;
    expect(model.kind === 'model' && model.objective.spec).toEqual({ kind: 'blend', w_ctr: 1, w_ctcvr: 0, w_rev: 0.01, price_exponent: 1 });
    const b = compiled.byName.get('model-b')!;
    expect(b.kind === 'model' && b.model.id).toBe('other-model');
    expect(b.kind === 'model' && b.objective.spec).toEqual(shipped.objective); // the manifest's, by default
    const mix = compiled.byName.get('mix')!;
    expect(mix.kind === 'interleave' && mix.sides.map((s) => s.name)).toEqual(['model', 'control']);
    expect(compiled.assignable.map((a) => [a.arm.name, a.upTo])).toEqual([
      ['control', 50],
      ['model', 80],
      ['model-b', 100],
    ]);
    expect(compiled.control).toBe('control');
    expect(compiled.defaultArm).toBe('control');
  });

  it('without a config: one arm, default, with the manifest objective', () => {
    const d = defaultExperiments(registry);
    expect(d.arms.map((a) => a.name)).toEqual(['default']);
    expect(d.experiment).toBe('none');
  });

  it('rejects a bad config with a message naming the field', () => {
    const arms = abConfig.arms;
    expect(configError('{"experiment": ')).toMatch(/^EXPERIMENTS: not valid JSON/);
    expect(configError({ ...abConfig, arms: [{ ...arms[0], share: 40 }, ...arms.slice(1)] })).toMatch(/^EXPERIMENTS: arms: shares must add up to 100, they add up to 90/);
    expect(configError({ ...abConfig, arms: [{ ...arms[0], share: -1 }] })).toMatch(/arms\[0\]\.share: must be >= 0/);
    expect(configError({ ...abConfig, arms: [...arms, { ...arms[1] }] })).toMatch(/arms\[4\]\.name: duplicate arm name 'model' \(first at arms\[1\]\)/);
    expect(configError({ ...abConfig, arms: [{ name: 'x', kind: 'bandit', share: 100 }] })).toMatch(/arms\[0\]\.kind: /);
    expect(configError({ ...abConfig, arms: [{ name: 'x', kind: 'model', share: 100, objective: { kind: 'blend', w_ctr: -2 } }] })).toMatch(/arms\[0\]\.objective\.w_ctr: must be >= 0/);
    expect(configError({ experiment: 'e', arms: [{ name: 'x', kind: 'model', share: 100, model: 'nope' }] })).toMatch(/arms\[0\]\.model: no bundled model 'nope' \(bundled: commerce-mtl, other-model\)/);
    expect(configError({ ...abConfig, arms: [...arms.slice(0, 3), { name: 'mix', kind: 'interleave', share: 0, arms: ['model', 'ghost'] }] })).toMatch(/arms\[3\]\.arms\[1\]: no arm named 'ghost'/);
    expect(configError({ ...abConfig, arms: [...arms.slice(0, 3), { name: 'mix', kind: 'interleave', share: 0, arms: ['model', 'model'] }] })).toMatch(/arms\[3\]\.arms: must name two different arms/);
    expect(configError({ ...abConfig, arms: [...arms, { name: 'mix2', kind: 'interleave', share: 0, arms: ['model', 'mix'] }] })).toMatch(/'mix' is an interleave arm itself/);
    expect(configError({ ...abConfig, control: 'ghost' })).toMatch(/control: no arm named 'ghost'/);
    expect(configError({ ...abConfig, arms: [{ name: 'x', kind: 'model', share: 100, rules: { boost: [{ ids: ['a'], factor: 0 }] } }] })).toMatch(/arms\[0\]\.rules\.boost\[0\]\.factor: must be > 0/);
    expect(configError({ ...abConfig, arms: [{ name: 'Bad Name', kind: 'model', share: 100 }] })).toMatch(/arms\[0\]\.name: lower-case/);
    expect(configError({ ...abConfig, extra: 1 })).toMatch(/unknown field\(s\) 'extra'/);
    expect(configError({ ...abConfig, arms: [] })).toMatch(/arms: must hold at least 1 arm/);
  });
});

describe('assignment', () => {
  const compiled = compileExperiments(parseExperimentsConfig(abConfig), registry, 'var');

  it('is deterministic and stable: the same unit, salt and experiment give the same bucket', async () => {
    const a = await bucketOf('salt-1', 'exp-1', 'user:u1');
    expect(await bucketOf('salt-1', 'exp-1', 'user:u1')).toBe(a);
    expect(a).toBeGreaterThanOrEqual(0);
    expect(a).toBeLessThan(100);
    expect(await bucketOf('salt-2', 'exp-1', 'user:u1')).not.toBe(a);
    expect(await bucketOf('salt-1', 'exp-2', 'user:u1')).not.toBe(a);
    const first = await assignArm(compiled, { kind: 'user', id: 'u42' }, 'salt-1');
    for (let i = 0; i < 5; i++) expect((await assignArm(compiled, { kind: 'user', id: 'u42' }, 'salt-1')).arm.name).toBe(first.arm.name);
    // the same id as a client id is another unit
    expect((await assignArm(compiled, { kind: 'client', id: 'u42' }, 'salt-1')).bucket).not.toBe(first.bucket);
  });

  it('remembers recent buckets without changing them: equal to the hash itself across salts, experiments and evictions', async () => {
    const ids = Array.from({ length: BUCKET_MEMO_SIZE + 50 }, (_, i) => `user:u${i}`);
    const sample = [0, 1, 7, BUCKET_MEMO_SIZE - 1, BUCKET_MEMO_SIZE, BUCKET_MEMO_SIZE + 49];
    for (const id of ids) await bucketOf('salt-1', 'exp-1', id); // fills the memo past its bound
    for (const i of sample) {
      // evicted (the first ones), remembered, and after a switch of salt or experiment and back
      expect(await bucketOf('salt-1', 'exp-1', ids[i]!)).toBe(await computeBucket('salt-1', 'exp-1', ids[i]!));
      expect(await bucketOf('salt-2', 'exp-1', ids[i]!)).toBe(await computeBucket('salt-2', 'exp-1', ids[i]!));
      expect(await bucketOf('salt-2', 'exp-9', ids[i]!)).toBe(await computeBucket('salt-2', 'exp-9', ids[i]!));
      expect(await bucketOf('salt-1', 'exp-1', ids[i]!)).toBe(await computeBucket('salt-1', 'exp-1', ids[i]!));
    }
    // concurrent lookups under two salts each get their own salt's bucket
    const mixed = await Promise.all(sample.flatMap((i) => [bucketOf('salt-1', 'exp-1', ids[i]!), bucketOf('salt-3', 'exp-1', ids[i]!)]));
    const expected = await Promise.all(sample.flatMap((i) => [computeBucket('salt-1', 'exp-1', ids[i]!), computeBucket('salt-3', 'exp-1', ids[i]!)]));
    expect(mixed).toEqual(expected);
    expect(new Set(expected).size).toBe(expected.length);
  });

  it('splits 10,000 ids by the configured shares (within 3 standard errors); arms with share 0 get none', async () => {
    const counts = new Map<string, number>();
    const n = 10_000;
    for (let i = 0; i < n; i++) {
      const { arm } = await assignArm(compiled, { kind: 'user', id: `u${i}` }, 'a-salt');
      counts.set(arm.name, (counts.get(arm.name) ?? 0) + 1);
    }
    for (const [name, share] of [['control', 0.5], ['model', 0.3], ['model-b', 0.2]] as const) {
      const se = Math.sqrt((share * (1 - share)) / n);
      expect(Math.abs(counts.get(name)! / n - share), name).toBeLessThan(3 * se);
    }
    expect(counts.has('mix')).toBe(false);
  });

  it('maps buckets to arms by cumulative share', () => {
    expect(armForBucket(compiled, 0).name).toBe('control');
    expect(armForBucket(compiled, 49.999).name).toBe('control');
    expect(armForBucket(compiled, 50).name).toBe('model');
    expect(armForBucket(compiled, 99.9999).name).toBe('model-b');
  });

  it('gives anonymous requests (no user id, no client id) the default arm, with no bucket', async () => {
    const withDefault = compileExperiments(parseExperimentsConfig({ ...abConfig, default_arm: 'model' }), registry, 'var');
    const a = await assignArm(withDefault, { kind: 'none' }, 'salt');
    expect(a.arm.name).toBe('model');
    expect(a.bucket).toBeNull();
    expect((await assignArm(compiled, { kind: 'none' }, 'salt')).arm.name).toBe('control');
  });

  it('hashes ids for the log with the salt: 32 hex digits, never the id, none without a salt', async () => {
    const h = await hashUnit({ kind: 'user', id: 'u000017' }, 'salt');
    expect(h).toMatch(/^[0-9a-f]{32}$/);
    expect(h).not.toContain('u000017');
    expect(await hashUnit({ kind: 'user', id: 'u000017' }, 'salt')).toBe(h);
    expect(await hashUnit({ kind: 'user', id: 'u000017' }, 'pepper')).not.toBe(h);
    expect(await hashUnit({ kind: 'user', id: 'u000017' }, undefined)).toBeNull();
    expect(await hashUnit({ kind: 'none' }, 'salt')).toBeNull();
  });

  it('compares secrets by digest: equal, different, and different lengths', async () => {
    expect(await constantTimeEqual('s3cret-token', 's3cret-token')).toBe(true);
    expect(await constantTimeEqual('s3cret-token', 's3cret-tokeN')).toBe(false);
    expect(await constantTimeEqual('s3cret-token', 's3cret')).toBe(false);
    expect(await constantTimeEqual('', 'x')).toBe(false);
  });
});

describe('team-draft interleaving', () => {
  const a = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const b = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0];

  it('holds every item once, each team picks in turn (counts never differ by more than one), each from its own ranking', () => {
    for (let seed = 0; seed < 200; seed++) {
      const { order, team } = teamDraft(a, b, coin(seed));
      expect([...order].sort((x, y) => x - y)).toEqual(a);
      let picksA = 0;
      let picksB = 0;
      const usedBefore = new Set<number>();
      order.forEach((row, i) => {
        if (team[i] === 0) picksA++;
        else picksB++;
        expect(Math.abs(picksA - picksB)).toBeLessThanOrEqual(1);
        // the pick is the team's best item not yet shown
        const own = team[i] === 0 ? a : b;
        expect(row).toBe(own.find((r) => !usedBefore.has(r)));
        usedBefore.add(row);
      });
      // in every pair of rounds each team picked once
      for (let i = 0; i + 1 < order.length; i += 2) expect(team[i]! + team[i + 1]!).toBe(1);
    }
  });

  it('both teams contribute; the coin decides who starts, about half the time each', () => {
    let aFirst = 0;
    for (let seed = 0; seed < 1_000; seed++) {
      const { team } = teamDraft(a, b, coin(seedOf(`req-${seed}`)));
      expect(team.filter((t) => t === 0)).toHaveLength(5);
      if (team[0] === 0) aFirst++;
    }
    expect(aFirst).toBeGreaterThan(430);
    expect(aFirst).toBeLessThan(570);
  });

  it('is deterministic for a seed and handles rankings of different lengths', () => {
    expect(teamDraft(a, b, coin(seedOf('r1')))).toEqual(teamDraft(a, b, coin(seedOf('r1'))));
    const { order, team } = teamDraft([1, 2, 3], [3, 4, 5, 6, 7], coin(1));
    expect(new Set(order)).toEqual(new Set([1, 2, 3, 4, 5, 6, 7]));
    expect(order).toHaveLength(7);
    // identical rankings: every item still credited to exactly one team
    const same = teamDraft(a, a, coin(3));
    expect(same.order).toEqual(a);
    expect(same.team.filter((t) => t === 0)).toHaveLength(5);
  });
});
