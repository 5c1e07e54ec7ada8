// Groups an impression log into slates (one per request) with the records the worker would have
// read for them: the user's and items' feature records as of the end of the feature window, the
// context derived from the impression, and the shown price sent inline, as a storefront sends it.
import type { ItemRow, SlateRecords } from '../features/assemble.ts';
import { contextRecord, type RawRecord } from '../features/records.ts';
import type { Impression } from '../data/impressions.ts';

/** A slate plus its labels, in displayed order. */
export interface LabelledSlate extends SlateRecords {
  requestId: string;
  ts: number;
  positions: Int32Array;
  clicks: Uint8Array;
  purchases: Uint8Array;
}

export interface RecordLookup {
  user(userId: string): RawRecord | undefined;
  item(itemId: string): RawRecord | undefined;
}

/** Impressions must arrive grouped by request (a world's log is; so is any log sorted by time). */
export function* labelledSlates(impressions: Iterable<Impression>, records: RecordLookup): Generator<LabelledSlate> {
  let group: Impression[] = [];
  for (const impression of impressions) {
    if (group.length > 0 && group[0]!.request_id !== impression.request_id) {
      yield toSlate(group, records);
      group = [];
    }
    group.push(impression);
  }
  if (group.length > 0) yield toSlate(group, records);
}

function toSlate(group: Impression[], records: RecordLookup): LabelledSlate {
  group.sort((a, b) => a.position - b.position);
  const first = group[0]!;
  const items: ItemRow[] = group.map((imp) => ({ id: imp.item_id, stored: records.item(imp.item_id), inline: { price: imp.price } }));
  return {
    requestId: first.request_id,
    ts: first.ts,
    userId: first.user_id,
    user: records.user(first.user_id),
    context: contextRecord({ device: first.device, page: first.page, time: first.ts }, new Date(first.ts)),
    items,
    positions: Int32Array.from(group, (imp) => imp.position),
    clicks: Uint8Array.from(group, (imp) => imp.clicked),
    purchases: Uint8Array.from(group, (imp) => imp.purchased),
  };
}
