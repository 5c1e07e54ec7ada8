// Request times: spread over whole days with a daily cycle of traffic (UTC). Times are produced by
// inverting the cumulative traffic intensity, tabulated per minute of the day.
import type { Rng } from './rng.ts';
import { searchCumulative } from './rng.ts';

const MINUTES_PER_DAY = 1440;
const MS_PER_MINUTE = 60_000;
export const MS_PER_DAY = 86_400_000;

/** UTC hour of an epoch-ms time, as contextRecord derives it. */
export function hourOf(ts: number): number {
  return Math.floor((((ts % MS_PER_DAY) + MS_PER_DAY) % MS_PER_DAY) / 3_600_000);
}

export class DailyCycle {
  /** dayCumulative[m] = share of a day's traffic before minute m (0 at m = 0, 1 at m = 1440) */
  private readonly dayCumulative = new Float64Array(MINUTES_PER_DAY + 1);

  constructor(
    readonly startTs: number,
    readonly days: number,
    amplitude: number,
    peakHourUtc: number,
  ) {
    let total = 0;
    for (let m = 0; m < MINUTES_PER_DAY; m++) {
      const hour = (m + 0.5) / 60;
      total += 1 + amplitude * Math.cos((2 * Math.PI * (hour - peakHourUtc)) / 24);
      this.dayCumulative[m + 1] = total;
    }
    for (let m = 1; m <= MINUTES_PER_DAY; m++) this.dayCumulative[m]! /= total;
  }

  /** The time by which a fraction f (0 <= f < 1) of the window's traffic has arrived. */
  timeAt(f: number): number {
    const dayPosition = f * this.days;
    const day = Math.min(this.days - 1, Math.floor(dayPosition));
    const withinDay = dayPosition - day;
    // Minute m with dayCumulative[m] <= withinDay < dayCumulative[m + 1], then linear inside it.
    const m = Math.min(MINUTES_PER_DAY - 1, searchCumulative(this.dayCumulative, withinDay, 1, MINUTES_PER_DAY + 1) - 1);
    const lo = this.dayCumulative[m]!;
    const hi = this.dayCumulative[m + 1]!;
    const minute = m + (hi > lo ? (withinDay - lo) / (hi - lo) : 0);
    return this.startTs + day * MS_PER_DAY + Math.min(MS_PER_DAY - 1, Math.floor(minute * MS_PER_MINUTE));
  }

  /** One request time, independent of any other. */
  randomTime(rng: Rng): number {
    return this.timeAt(rng.uniform());
  }

  /**
   * `count` independent request times in ascending order, produced one by one: each is the minimum
   * of the remaining uniforms (order statistics), so no array of times is ever held.
   */
  *sortedTimes(count: number, rng: Rng): Generator<number> {
    let remaining = 1; // 1 - the last fraction
    for (let left = count; left > 0; left--) {
      remaining *= (1 - rng.uniform()) ** (1 / left);
      yield this.timeAt(Math.min(1 - remaining, 1 - Number.EPSILON));
    }
  }
}
