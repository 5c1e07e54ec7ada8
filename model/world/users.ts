// The user table, columnar so that a million users fit in a few typed arrays. Users are drawn one
// after another from their own stream: the first n users of a world do not depend on how many
// follow.
import { IdFormat } from './ids.ts';
import type { WorldParams } from './params.ts';
import { Rng, cumulativeSums } from './rng.ts';
import { CATEGORIES, DEVICES, SEGMENTS, TRUTH } from './spec.ts';
import type { WorldSettings } from './settings.ts';

export interface UserTable {
  count: number;
  ids: IdFormat;
  /** observable: index into SEGMENTS */
  segment: Uint8Array;
  /** observable: index into LOYALTY_TIERS */
  loyaltyTier: Uint8Array;
  tenureDays: Uint16Array;
  // Hidden ground truth below: never written to the tables.
  /** index into DEVICES: most of the user's requests come from it */
  primaryDevice: Uint8Array;
  priceSensitivity: Float32Array;
  /** log of the user's usual price relative to a category's median */
  priceLevel: Float32Array;
  /** relative request rate */
  activity: Float32Array;
  /** count x categories */
  affinity: Float32Array;
  /** count x latentDim */
  latent: Float32Array;
  /** running sums of activity, to draw the user of a request */
  activityCumulative: Float64Array;
}

export function generateUsers(settings: WorldSettings, params: WorldParams): UserTable {
  const rng = Rng.stream(settings.seed, 'users');
  const count = settings.users;
  const dim = settings.latentDim;
  const categories = CATEGORIES.length;
  const spec = TRUTH.users;
  const segmentCumulative = cumulativeSums(SEGMENTS.map((s) => s.share));
  const deviceCumulative = cumulativeSums(DEVICES.map((d) => TRUTH.deviceShare[d]));

  const users: UserTable = {
    count,
    ids: new IdFormat('u', count),
    segment: new Uint8Array(count),
    loyaltyTier: new Uint8Array(count),
    tenureDays: new Uint16Array(count),
    primaryDevice: new Uint8Array(count),
    priceSensitivity: new Float32Array(count),
    priceLevel: new Float32Array(count),
    activity: new Float32Array(count),
    affinity: new Float32Array(count * categories),
    latent: new Float32Array(count * dim),
    activityCumulative: new Float64Array(count),
  };

  const sharedLatent = Math.sqrt(spec.segmentLatentShare);
  const ownLatent = Math.sqrt(1 - spec.segmentLatentShare);
  let activityTotal = 0;
  for (let u = 0; u < count; u++) {
    const s = rng.pickCumulative(segmentCumulative);
    const segment = SEGMENTS[s]!;
    users.segment[u] = s;
    const tenure = Math.min(spec.maxTenureDays, Math.max(1, Math.round(spec.tenureMedianDays * Math.exp(spec.tenureLogSd * rng.normal()))));
    users.tenureDays[u] = tenure;
    const activity = segment.activity * Math.exp(spec.activitySd * rng.normal());
    users.activity[u] = activity;
    activityTotal += users.activity[u]!;
    users.activityCumulative[u] = activityTotal;
    // Loyal users are the active, long-standing ones, with plenty of exceptions.
    const loyalty = spec.loyaltyActivityWeight * Math.log(activity) + spec.loyaltyTenureWeight * Math.log1p(tenure / 365) + rng.normal();
    users.loyaltyTier[u] = loyalty > spec.loyaltyThresholds[1] ? 2 : loyalty > spec.loyaltyThresholds[0] ? 1 : 0;
    users.primaryDevice[u] = rng.pickCumulative(deviceCumulative);
    users.priceSensitivity[u] = Math.max(spec.sensitivityFloor, segment.priceSensitivity + spec.priceSensitivitySd * rng.normal());
    users.priceLevel[u] = segment.priceLevel + spec.priceLevelSd * rng.normal();
    for (let c = 0; c < categories; c++) {
      users.affinity[u * categories + c] = params.segmentAffinity[s * categories + c]! + spec.individualAffinitySd * rng.normal();
    }
    for (let d = 0; d < dim; d++) {
      users.latent[u * dim + d] = sharedLatent * params.segmentLatent[s * dim + d]! + ownLatent * rng.normal();
    }
  }
  return users;
}
