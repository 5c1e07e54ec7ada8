// How often each fallback fired in this app instance (one per isolate in production), for /healthz:
// per-reason totals since the isolate started, and whether one fired recently. /healthz says
// "degraded" while any fallback fired within the last FALLBACK_WINDOW_MS - a fault that stopped
// a minute ago is history (the totals keep it), one that is still firing is a live incident.
export const FALLBACK_REASONS = ['kv_error', 'kv_timeout', 'model_error'] as const;
export type FallbackReason = (typeof FALLBACK_REASONS)[number];

export const FALLBACK_WINDOW_MS = 60_000;

export interface FallbackReport {
  /** rank responses served by this isolate, with or without a fallback */
  served: number;
  /** fallbacks per reason since the isolate started */
  total: Record<FallbackReason, number>;
  /** fallbacks per reason within the last window_ms (reasons with none are left out) */
  recent: Partial<Record<FallbackReason, number>>;
  window_ms: number;
  /** the last fallback: its reason, when (ISO-8601) and why (the error's message) */
  last: { reason: FallbackReason; at: string; error: string } | null;
}

export class FallbackTracker {
  private served = 0;
  private readonly total = Object.fromEntries(FALLBACK_REASONS.map((r) => [r, 0])) as Record<FallbackReason, number>;
  /** times (ms) of the fallbacks within the window, oldest first; pruned as it slides */
  private readonly times: Array<{ reason: FallbackReason; at: number }> = [];
  private last: FallbackReport['last'] = null;

  constructor(
    private readonly windowMs = FALLBACK_WINDOW_MS,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Counts one rank response; `reason` when it was a fallback. */
  record(reason: FallbackReason | null, error?: unknown): void {
    this.served++;
    if (reason === null) return;
    const now = this.clock();
    this.total[reason]++;
    this.times.push({ reason, at: now });
    this.prune(now);
    // a bound on memory under a storm of fallbacks: the window's counts only need to be roughly right then
    if (this.times.length > 10_000) this.times.splice(0, this.times.length - 10_000);
    this.last = { reason, at: new Date(now).toISOString(), error: error instanceof Error ? error.message : String(error ?? reason) };
  }

  /** Whether a fallback fired within the window. */
  recentlyFired(): boolean {
    this.prune(this.clock());
    return this.times.length > 0;
  }

  report(): FallbackReport {
    this.prune(this.clock());
    const recent: FallbackReport['recent'] = {};
    for (const { reason } of this.times) recent[reason] = (recent[reason] ?? 0) + 1;
    return { served: this.served, total: { ...this.total }, recent, window_ms: this.windowMs, last: this.last };
  }

  private prune(now: number): void {
    let drop = 0;
    while (drop < this.times.length && now - this.times[drop]!.at >= this.windowMs) drop++;
    if (drop > 0) this.times.splice(0, drop);
  }
}
