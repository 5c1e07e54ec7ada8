// Turns the tables and the impression log into the records of one feature-set version: one pass over
// the log for its time span and position click curve (kept per day, so the serving window's curve
// comes out of the same pass), then per-user and per-item statistics over that window, then one
// record per item and per user, streamed so memory holds statistics, not output. The statistics
// need the curve (an impression's expected clicks) and the window (the log's last day) before they
// can start, so the first pass keeps the columns they read in compact arrays, up to a row cap, and
// replays them instead of reading and parsing the log a second time (~1/4 of a 2M-key backfill's
// CPU); a bigger log is read again.
import type { CatalogItem, Impression, UserProfile } from '../../model/data/impressions.ts';
import { DAY_MS, EntityLookupsBuilder, FeatureStatsAccumulator, IdInterner, ITEM_WINDOW_DAYS, MAX_POSITION_BUCKET, PositionCurve, statsParts, USER_WINDOW_DAYS, type StatsImpression } from '../../model/features/compute.ts';

/** Impressions the first pass keeps for the statistics (~33 bytes a row, plus each distinct id once): beyond, the log is read twice. */
export const DEFAULT_REPLAY_ROWS = 5_000_000;

export interface KvPair {
  key: string;
  value: string;
}

/** The three input tables, each a fresh pass per call, in batches of rows. */
export interface FeatureSources {
  impressions: () => AsyncIterable<Impression[]>;
  users: () => AsyncIterable<UserProfile[]>;
  items: () => AsyncIterable<CatalogItem[]>;
  /** optional cheaper passes over a few columns (a table reader converts only those) */
  impressionCurveColumns?: () => AsyncIterable<Pick<Impression, 'ts' | 'position' | 'clicked'>[]>;
  /** the columns the curve and the statistics read: the pass that can keep them for replay */
  impressionStatsColumns?: () => AsyncIterable<TimedStatsImpression[]>;
  itemAttributes?: () => AsyncIterable<Pick<CatalogItem, 'item_id' | 'category' | 'brand' | 'price'>[]>;
  userSegments?: () => AsyncIterable<Pick<UserProfile, 'user_id' | 'segment'>[]>;
}

export interface StatsWindow {
  /** item records (and the position curve) summarise impressions with fromTs <= ts < toTs */
  fromTs: number;
  toTs: number;
  /** user records summarise impressions with userFromTs <= ts < toTs (a longer window) */
  userFromTs: number;
}

type TimedStatsImpression = StatsImpression & Pick<Impression, 'ts'>;

/**
 * The statistics' columns of the log's first rows, kept for replay (see the header). Ids are kept
 * as indices of two interners, which the replay hands to the accumulator: it then finds each
 * user's and item's statistics and lookups by index rather than by id at every impression.
 */
class ImpressionReplay {
  private rows = 0;
  private ts = new Float64Array(1024);
  private position = new Float64Array(1024);
  private price = new Float64Array(1024);
  private flags = new Uint8Array(1024); // bit 0 clicked, bit 1 purchased
  private user = new Int32Array(1024);
  private item = new Int32Array(1024);
  private users = new IdInterner();
  private items = new IdInterner();

  constructor(private readonly maxRows: number) {}

  /** false once the log outgrew maxRows (the buffers are then released) */
  get complete(): boolean {
    return this.rows >= 0;
  }

  add(impression: TimedStatsImpression): void {
    const i = this.rows;
    if (i < 0) return;
    if (i >= this.maxRows) {
      this.release();
      return;
    }
    if (i === this.ts.length) this.grow();
    this.ts[i] = impression.ts;
    this.position[i] = impression.position;
    this.price[i] = impression.price;
    this.flags[i] = impression.clicked | (impression.purchased << 1);
    this.user[i] = this.users.of(impression.user_id);
    this.item[i] = this.items.of(impression.item_id);
    this.rows = i + 1;
  }

  /** Feeds the kept rows inside the window to `stats`, in log order, as the second read would. */
  replay(stats: FeatureStatsAccumulator, window: StatsWindow): void {
    const row: Omit<StatsImpression, 'user_id' | 'item_id'> = { position: 0, clicked: 0, purchased: 0, price: 0 };
    for (let i = 0; i < this.rows; i++) {
      const ts = this.ts[i]!;
      const parts = statsParts(ts, window.fromTs, window.userFromTs, window.toTs);
      if (parts === 0) continue;
      const flags = this.flags[i]!;
      row.position = this.position[i]!;
      row.clicked = (flags & 1) as 0 | 1;
      row.purchased = ((flags >> 1) & 1) as 0 | 1;
      row.price = this.price[i]!;
      stats.addInterned(this.users, this.items, this.user[i]!, this.item[i]!, row, parts);
    }
  }

  private grow(): void {
    const size = this.ts.length * 2;
    const grown = <T extends Float64Array | Uint8Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(size);
      b.set(a);
      return b;
    };
    this.ts = grown(this.ts, (n) => new Float64Array(n));
    this.position = grown(this.position, (n) => new Float64Array(n));
    this.price = grown(this.price, (n) => new Float64Array(n));
    this.flags = grown(this.flags, (n) => new Uint8Array(n));
    this.user = grown(this.user, (n) => new Int32Array(n));
    this.item = grown(this.item, (n) => new Int32Array(n));
  }

  private release(): void {
    this.rows = -1;
    this.ts = this.position = this.price = new Float64Array(0);
    this.flags = new Uint8Array(0);
    this.user = this.item = new Int32Array(0);
    this.users = new IdInterner();
    this.items = new IdInterner();
  }
}

/** Clamps a position the way PositionCurve buckets it (1..MAX_POSITION_BUCKET). */
function positionBucket(position: number): number {
  return position < 1 ? 1 : position > MAX_POSITION_BUCKET ? MAX_POSITION_BUCKET : Math.floor(position);
}

/** How many whole days before "tomorrow" the item records (and the curve) and the user records summarise. */
export interface WindowDays {
  windowDays: number;
  userWindowDays: number;
}

export const SERVING_WINDOW_DAYS: WindowDays = { windowDays: ITEM_WINDOW_DAYS, userWindowDays: USER_WINDOW_DAYS };

/**
 * The serving window (the `windowDays` whole days before the day after the log's last impression,
 * i.e. what the trainer's point-in-time features see for "tomorrow"; users' `userWindowDays`) and the position click curve
 * over it, from one pass: shown/clicked counts are kept per day and position bucket, and the
 * window's days are replayed into the shared PositionCurve, so its rates are exactly those of a
 * curve fed the window's impressions one by one.
 */
export async function windowAndCurve(sources: FeatureSources, days: WindowDays = SERVING_WINDOW_DAYS, replay?: ImpressionReplay): Promise<{ window: StatsWindow; rates: Float64Array }> {
  const { windowDays, userWindowDays } = days;
  const width = MAX_POSITION_BUCKET + 1;
  const perDay = new Map<number, Float64Array>(); // day -> [shown by bucket..., clicks by bucket...]
  let last = Number.NEGATIVE_INFINITY;
  const pass = replay ? (sources.impressionStatsColumns ?? sources.impressions) : (sources.impressionCurveColumns ?? sources.impressions);
  for await (const batch of pass()) {
    for (const impression of batch) {
      replay?.add(impression as TimedStatsImpression);
      const ts = impression.ts;
      if (ts > last) last = ts;
      const day = Math.floor(ts / DAY_MS);
      let counts = perDay.get(day);
      if (!counts) perDay.set(day, (counts = new Float64Array(2 * width)));
      const b = positionBucket(impression.position);
      counts[b]!++;
      counts[width + b]! += impression.clicked;
    }
  }
  const curve = new PositionCurve();
  if (!Number.isFinite(last)) return { window: { fromTs: 0, toTs: 0, userFromTs: 0 }, rates: curve.rates() };
  const toDay = Math.floor(last / DAY_MS) + 1;
  const window = { fromTs: (toDay - windowDays) * DAY_MS, toTs: toDay * DAY_MS, userFromTs: (toDay - userWindowDays) * DAY_MS };
  for (let day = toDay - windowDays; day < toDay; day++) {
    const counts = perDay.get(day);
    if (!counts) continue;
    for (let b = 1; b <= MAX_POSITION_BUCKET; b++) {
      const clicks = counts[width + b]!;
      for (let k = 0; k < clicks; k++) curve.add({ position: b, clicked: 1 });
      for (let k = clicks; k < counts[b]!; k++) curve.add({ position: b, clicked: 0 });
    }
  }
  return { window, rates: curve.rates() };
}

/** Per-user and per-item statistics over the serving window (FeatureStatsAccumulator, the shared module). */
export async function accumulateStats(
  sources: FeatureSources,
  days: WindowDays = SERVING_WINDOW_DAYS,
  replayRows = DEFAULT_REPLAY_ROWS,
): Promise<{ stats: FeatureStatsAccumulator; window: StatsWindow; items: number }> {
  const replay = replayRows > 0 ? new ImpressionReplay(replayRows) : undefined;
  const { window, rates } = await windowAndCurve(sources, days, replay);
  const lookups = new EntityLookupsBuilder();
  let items = 0;
  for await (const batch of (sources.itemAttributes ?? sources.items)()) {
    for (const item of batch) lookups.addItem(item);
    items += batch.length;
  }
  for await (const batch of (sources.userSegments ?? sources.users)()) for (const user of batch) lookups.addUser(user);
  const stats = new FeatureStatsAccumulator(rates, lookups.build());
  if (replay?.complete) {
    replay.replay(stats, window);
  } else {
    for await (const batch of sources.impressions()) {
      for (const impression of batch) {
        const parts = statsParts(impression.ts, window.fromTs, window.userFromTs, window.toTs);
        if (parts !== 0) stats.add(impression, parts);
      }
    }
  }
  return { stats, window, items };
}
