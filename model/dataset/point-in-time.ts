// Point-in-time training slates: every impression of day d is paired with the feature records a
// daily backfill would have served on day d, i.e. statistics over the window [d - W, d). No label
// of day d leaks into its own features, and records are as fresh in training as in serving.
// Items' and users' statistics each have their own window (ITEM_WINDOW_DAYS, USER_WINDOW_DAYS).
import type { CatalogItem, Impression, UserProfile } from '../data/impressions.ts';
import { DAY_MS, entityLookups, FeatureStatsAccumulator, PositionCurve, statsParts, type EntityLookups } from '../features/compute.ts';
import type { RawRecord } from '../features/records.ts';
import { labelledSlates, type LabelledSlate } from './slates.ts';

export interface Tables {
  users: ReadonlyMap<string, UserProfile>;
  items: ReadonlyMap<string, CatalogItem>;
}

/** First index with log[i].ts >= ts (the log is sorted by ts). */
export function lowerBound(log: readonly Impression[], ts: number): number {
  let lo = 0;
  let hi = log.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (log[mid]!.ts < ts) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Feature statistics at log[to]: items (and the position curve) over log[itemFrom, to), users over
 * log[userFrom, to).
 */
export function windowStats(log: readonly Impression[], bounds: { itemFrom: number; userFrom: number; to: number }, lookups: EntityLookups): FeatureStatsAccumulator {
  const { itemFrom, userFrom, to } = bounds;
  const curve = new PositionCurve();
  for (let i = itemFrom; i < to; i++) curve.add(log[i]!);
  const stats = new FeatureStatsAccumulator(curve.rates(), lookups);
  for (let i = Math.min(itemFrom, userFrom); i < to; i++) stats.add(log[i]!, statsParts(i, itemFrom, userFrom, to));
  return stats;
}

/**
 * Labelled slates for impressions with ts in [fromTs, toTs), day by day (days counted from
 * `originTs`), each with item records from the `windowDays` and user records from the
 * `userWindowDays` before its day (fewer where the log starts later: the first training days see a
 * shorter user history than serving does, and the history-length features tell the model so).
 */
export function* pointInTimeSlates(
  log: readonly Impression[],
  tables: Tables,
  range: { originTs: number; fromTs: number; toTs: number; windowDays: number; userWindowDays: number },
): Generator<LabelledSlate> {
  const lookups = entityLookups(tables.users.values(), tables.items.values());
  const firstDay = Math.floor((range.fromTs - range.originTs) / DAY_MS);
  for (let day = firstDay; range.originTs + day * DAY_MS < range.toTs; day++) {
    const dayStart = range.originTs + day * DAY_MS;
    const start = lowerBound(log, Math.max(dayStart, range.fromTs));
    const end = lowerBound(log, Math.min(dayStart + DAY_MS, range.toTs));
    if (start >= end) continue;
    const stats = windowStats(
      log,
      { itemFrom: lowerBound(log, dayStart - range.windowDays * DAY_MS), userFrom: lowerBound(log, dayStart - range.userWindowDays * DAY_MS), to: lowerBound(log, dayStart) },
      lookups,
    );
    const users = new Map<string, RawRecord | undefined>();
    const items = new Map<string, RawRecord | undefined>();
    yield* labelledSlates(log.slice(start, end), {
      user: (id) => memo(users, id, () => {
        const profile = tables.users.get(id);
        return profile ? stats.userFeatures(profile) : undefined;
      }),
      item: (id) => memo(items, id, () => {
        const item = tables.items.get(id);
        return item ? stats.itemFeatures(item) : undefined;
      }),
    });
  }
}

function memo<V>(cache: Map<string, V>, key: string, make: () => V): V {
  if (cache.has(key)) return cache.get(key)!;
  const value = make();
  cache.set(key, value);
  return value;
}
