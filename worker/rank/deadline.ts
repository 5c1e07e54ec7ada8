// The per-request deadline (RANK_DEADLINE_MS): waits on I/O - KV reads, the experiments config -
// are raced against what is left of it, so a dependency that hangs costs the request its model
// order (a fallback), never its response. The work that lost the race is abandoned, not cancelled
// (KV reads cannot be): its late result or failure is swallowed here.
//
// workerd advances its clocks only across I/O, so CPU work (scoring, JSON) is not measured and
// cannot be interrupted; the deadline bounds waiting, which is where hangs happen.

export const DEFAULT_RANK_DEADLINE_MS = 50;

/** A shared read (single flight) that nobody waits for any more settles after this, so it cannot stay in flight forever. */
export const SHARED_READ_TIMEOUT_MS = 5_000;

export class DeadlineExceeded extends Error {
  override readonly name = 'DeadlineExceeded';
}

/** RANK_DEADLINE_MS as a positive number of ms; anything else is the default. */
export function deadlineMs(value: string | undefined): number {
  const n = value === undefined || value.trim() === '' ? Number.NaN : Number(value);
  return Number.isFinite(n) && n > 0 ? n : DEFAULT_RANK_DEADLINE_MS;
}

/**
 * `work`, or a DeadlineExceeded rejection after `ms` if it has not settled by then. A promise that
 * is already settled always wins (its reaction runs before any timer), so cached answers are never
 * lost to an exhausted budget. The timer is cleared as soon as either side settles.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  work.catch(() => undefined); // the loser's late rejection is expected, not unhandled
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded(`${what} did not answer within ${Math.round(ms)} ms`)), Math.max(0, ms));
  });
  expired.catch(() => undefined);
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

export class Deadline {
  private readonly end: number;

  constructor(
    readonly ms: number,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.end = clock() + ms;
  }

  remaining(): number {
    return Math.max(0, this.end - this.clock());
  }

  /** `work` if it settles within the time left, else DeadlineExceeded. */
  race<T>(work: Promise<T>, what: string): Promise<T> {
    return withTimeout(work, this.remaining(), what);
  }
}
