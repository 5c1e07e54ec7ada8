// Running statistics of a generated log: rates, the click-through curve by position, and the
// oracle's AUCs on a bounded, evenly spaced sample of rows (so a huge log needs no huge arrays).
import type { LoggedSlate } from './impression-log.ts';
import { rocAuc } from './math.ts';

export interface LogSummary {
  requests: number;
  impressions: number;
  clicks: number;
  purchases: number;
  /** clicks / impressions (null without impressions) */
  ctr: number | null;
  /** purchases / clicks (null without clicks) */
  cvr: number | null;
  /** CTR at positions 1, 2, ... (up to 30) */
  ctrByPosition: number[];
  /** AUC of the oracle's pClick against clicks, on the sampled rows */
  oracleCtrAuc: number | null;
  /** AUC of the oracle's P(purchase | click) against purchases, on the sampled clicked rows */
  oracleCvrAuc: number | null;
  /** rows in the oracle sample */
  oracleSampleRows: number;
}

const POSITIONS_REPORTED = 30;
const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;
const orNull = (x: number): number | null => (Number.isFinite(x) ? round4(x) : null);

export class LogStats {
  requests = 0;
  impressions = 0;
  clicks = 0;
  purchases = 0;
  private readonly positionImpressions = new Float64Array(POSITIONS_REPORTED);
  private readonly positionClicks = new Float64Array(POSITIONS_REPORTED);
  private readonly stride: number;
  private readonly pClick: Float64Array;
  private readonly clicked: Uint8Array;
  private readonly pPurchase: Float64Array;
  private readonly purchased: Uint8Array;
  private sampled = 0;

  /** expectedImpressions sizes the sampling stride so that at most sampleLimit rows are kept. */
  constructor(expectedImpressions: number, sampleLimit = 200_000) {
    this.stride = Math.max(1, Math.ceil(expectedImpressions / sampleLimit));
    const capacity = Math.min(sampleLimit, Math.ceil(expectedImpressions / this.stride) + 1);
    this.pClick = new Float64Array(capacity);
    this.clicked = new Uint8Array(capacity);
    this.pPurchase = new Float64Array(capacity);
    this.purchased = new Uint8Array(capacity);
  }

  add(slate: LoggedSlate): void {
    this.requests++;
    for (let k = 0; k < slate.candidates.length; k++) {
      const clicked = slate.clicked[k]!;
      this.clicks += clicked;
      this.purchases += slate.purchased[k]!;
      if (k < POSITIONS_REPORTED) {
        this.positionImpressions[k]! += 1;
        this.positionClicks[k]! += clicked;
      }
      if (this.impressions % this.stride === 0 && this.sampled < this.pClick.length) {
        this.pClick[this.sampled] = slate.pClick[k]!;
        this.clicked[this.sampled] = clicked;
        this.pPurchase[this.sampled] = slate.pPurchaseGivenClick[k]!;
        this.purchased[this.sampled] = slate.purchased[k]!;
        this.sampled++;
      }
      this.impressions++;
    }
  }

  private ctrByPosition(): number[] {
    const ctr: number[] = [];
    for (let k = 0; k < POSITIONS_REPORTED && this.positionImpressions[k]! > 0; k++) ctr.push(round4(this.positionClicks[k]! / this.positionImpressions[k]!));
    return ctr;
  }

  summary(): LogSummary {
    const n = this.sampled;
    const clickedRows: number[] = [];
    for (let r = 0; r < n; r++) if (this.clicked[r]) clickedRows.push(r);
    return {
      requests: this.requests,
      impressions: this.impressions,
      clicks: this.clicks,
      purchases: this.purchases,
      ctr: this.impressions > 0 ? round4(this.clicks / this.impressions) : null,
      cvr: this.clicks > 0 ? round4(this.purchases / this.clicks) : null,
      ctrByPosition: this.ctrByPosition(),
      oracleCtrAuc: orNull(rocAuc(this.pClick.subarray(0, n), this.clicked.subarray(0, n))),
      oracleCvrAuc: orNull(
        rocAuc(
          clickedRows.map((r) => this.pPurchase[r]!),
          clickedRows.map((r) => this.purchased[r]!),
        ),
      ),
      oracleSampleRows: n,
    };
  }
}
