// The segment-level ceiling: the ground truth as a model would see it if it knew every item's
// hidden values exactly but each user only through their segment (their individual tastes, latent
// vector and price habits replaced by their segment's). It bounds what features that reveal users
// only by segment can reach, and so tells how much of the oracle gap needs each user's own history.
import { GroundTruth } from './ground-truth.ts';
import { CATEGORIES, SEGMENTS, TRUTH } from './spec.ts';
import type { UserTable } from './users.ts';
import type { WorldParams } from './params.ts';

/** The users with every individual deviation from their segment removed. */
export function segmentLevelUsers(users: UserTable, params: WorldParams, latentDim: number): UserTable {
  const categories = CATEGORIES.length;
  const shared = Math.sqrt(TRUTH.users.segmentLatentShare);
  const out: UserTable = {
    ...users,
    priceSensitivity: new Float32Array(users.count),
    priceLevel: new Float32Array(users.count),
    affinity: new Float32Array(users.count * categories),
    latent: new Float32Array(users.count * latentDim),
  };
  for (let u = 0; u < users.count; u++) {
    const s = users.segment[u]!;
    out.priceSensitivity[u] = Math.max(TRUTH.users.sensitivityFloor, SEGMENTS[s]!.priceSensitivity);
    out.priceLevel[u] = SEGMENTS[s]!.priceLevel;
    for (let c = 0; c < categories; c++) out.affinity[u * categories + c] = params.segmentAffinity[s * categories + c]!;
    for (let d = 0; d < latentDim; d++) out.latent[u * latentDim + d] = shared * params.segmentLatent[s * latentDim + d]!;
  }
  return out;
}

/** Ground truth over segment-level users (the same items, contexts and effect sizes). */
export function segmentLevelTruth(world: { users: UserTable; params: WorldParams; items: ConstructorParameters<typeof GroundTruth>[1]; settings: { latentDim: number } }): GroundTruth {
  return new GroundTruth(segmentLevelUsers(world.users, world.params, world.settings.latentDim), world.items, world.settings.latentDim);
}
