// Seeded randomness for the world. pure-rand's xoroshiro128+ is fast and portable; everything the
// world draws goes through one of these named streams, so a given seed gives the same world on any
// machine, and drawing more impressions never changes the users or the catalog.
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { fnv1a32 } from '../features/hash.ts';

/** murmur3's 32-bit finaliser: spreads nearby seeds over the whole state space. */
function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** next() is a signed 32-bit integer; times this it is uniform in (-1, 1). */
const TWO_TO_MINUS_31 = 2 ** -31;

export class Rng {
  /** normals come in pairs; the second one waits here */
  private spareNormal = Number.NaN;

  private constructor(private readonly generator: RandomGenerator) {}

  /** The stream `name` of the world with this seed (seed: an integer 0 <= seed < 2^32). */
  static stream(seed: number, name: string): Rng {
    const generator = xoroshiro128plus(mix32(mix32(seed) ^ fnv1a32(name)) | 0);
    // The first outputs after seeding from 32 bits are weakly mixed; skip them.
    for (let i = 0; i < 16; i++) generator.next();
    return new Rng(generator);
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return uniformFloat64(this.generator);
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return uniformInt(this.generator, 0, n - 1);
  }

  /** Integer uniform in [min, max], both included. */
  intBetween(min: number, max: number): number {
    return uniformInt(this.generator, min, max);
  }

  bernoulli(p: number): boolean {
    return this.uniform() < p;
  }

  /** Standard normal (Marsaglia's polar method: no trigonometry, the hot path of world building). */
  normal(): number {
    if (!Number.isNaN(this.spareNormal)) {
      const spare = this.spareNormal;
      this.spareNormal = Number.NaN;
      return spare;
    }
    let u: number;
    let v: number;
    let s: number;
    do {
      // 32 random bits per coordinate are plenty here, and half the cost of uniform().
      u = (this.generator.next() + 0.5) * TWO_TO_MINUS_31;
      v = (this.generator.next() + 0.5) * TWO_TO_MINUS_31;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const scale = Math.sqrt((-2 * Math.log(s)) / s);
    this.spareNormal = v * scale;
    return u * scale;
  }

  exponential(mean: number): number {
    return -mean * Math.log(1 - this.uniform());
  }

  /**
   * An index in [from, to) drawn with probability proportional to its weight, given the weights'
   * running sums over that slice (starting from the slice's first weight).
   */
  pickCumulative(cumulative: ArrayLike<number>, from = 0, to = cumulative.length): number {
    return searchCumulative(cumulative, this.uniform() * cumulative[to - 1]!, from, to);
  }
}

/** First index i in [from, to) with cumulative[i] > target (the last one if none, for rounding). */
export function searchCumulative(cumulative: ArrayLike<number>, target: number, from = 0, to = cumulative.length): number {
  let lo = from;
  let hi = to - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cumulative[mid]! > target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Running sums of weights, for pickCumulative. */
export function cumulativeSums(weights: ArrayLike<number>): Float64Array {
  const sums = new Float64Array(weights.length);
  let total = 0;
  for (let i = 0; i < weights.length; i++) {
    total += weights[i]!;
    sums[i] = total;
  }
  return sums;
}
