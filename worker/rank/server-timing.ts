// Stage timings for the Server-Timing header (kv, features, model, total). In workerd,
// performance.now() advances only across I/O, so CPU-only stages may read 0 ms: that is the
// platform's Spectre mitigation, not a bug.
export class StageTimer {
  private readonly start = performance.now();
  private last = this.start;
  readonly stages: Array<[string, number]> = [];

  mark(stage: string): void {
    const now = performance.now();
    this.stages.push([stage, now - this.last]);
    this.last = now;
  }

  header(): string {
    const total = performance.now() - this.start;
    return [...this.stages, ['total', total] as [string, number]].map(([name, ms]) => `${name};dur=${ms.toFixed(2)}`).join(', ');
  }
}
