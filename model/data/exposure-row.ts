// The exposure log's row: one served slate as the worker logged it (README, "Exposure logging").
// Shared by the worker (which writes rows), scripts/read-exposures.ts (which exports them) and
// model/data/exposure-log.ts (which turns them into training data). No Node or Workers API here.

export const EXPOSURE_ROW_VERSION = 1;

/** One served item: its 1-based position and what the ranker knew about it. */
export interface ExposureItem {
  id: string;
  position: number;
  /** the score the slate was ordered by (objective x rule multipliers) */
  score: number;
  /** the model's probabilities; null for a popularity arm or a fallback order */
  p_ctr: number | null;
  p_cvr: number | null;
  /** the price the ranker used (inline, else stored); null when unknown */
  price: number | null;
  /** interleaving: the arm that contributed the item (null for an item a pin placed) */
  arm?: string | null;
  /** the model inputs of this row, by input name, in the order of `inputs[].features` */
  x?: Record<string, number[]>;
}

export interface ExposureInput {
  name: string;
  dtype: 'float32' | 'int32' | 'int64';
  features: string[];
}

export interface ExposureRow {
  v: typeof EXPOSURE_ROW_VERSION;
  request_id: string;
  /** epoch ms when the worker served it */
  ts: number;
  /** the unit: HMAC(EXPERIMENT_SALT, kind + id), never the raw id; null hash when anonymous or unsalted */
  unit: { kind: 'user' | 'client' | 'none'; hash: string | null };
  experiment: string;
  /** the assigned arm (the response's `arm`) */
  arm: string;
  arm_kind: 'model' | 'popularity' | 'interleave';
  /** interleaving: the two arms merged */
  sides?: [string, string];
  /** true when the QA override header chose the arm */
  override: boolean;
  /** what ordered the slate: the (first) scoring model, or {id: 'popularity', version: <field>} */
  model: { id: string; version: string };
  /** whose inputs `items[].x` are (null when none were assembled, e.g. a KV fallback) */
  features_model: { id: string; version: string } | null;
  inputs: ExposureInput[] | null;
  feature_set: string | null;
  fallback: string | null;
  /** the context record the features saw (device, page, hour) */
  context: Record<string, string | number | boolean | null>;
  /** the request's k (null: all) and how many candidates it sent */
  k: number | null;
  candidates: number;
  items: ExposureItem[];
  /** present only on a row split across several queue messages: this part's index and the count */
  part?: { index: number; count: number };
}

/** One outcome of a served item, as a storefront's click/purchase events give it. */
export interface ExposureOutcome {
  request_id: string;
  item_id: string;
  clicked: 0 | 1;
  purchased: 0 | 1;
}

const utf8 = new TextEncoder();

/** Bytes of a row as JSON (UTF-8). */
export function rowBytes(row: ExposureRow): number {
  return utf8.encode(JSON.stringify(row)).byteLength;
}

/**
 * Splits a row whose JSON exceeds `maxBytes` into parts holding consecutive items (each part
 * carries the header and `part`); a row that fits is returned as it is. Used for Queue messages
 * (128 KB each); a part of a single item over the limit is still one part (the sink counts it as
 * a failure when the queue refuses it).
 */
export function splitExposure(row: ExposureRow, maxBytes: number): ExposureRow[] {
  const total = rowBytes(row);
  if (total <= maxBytes) return [row];
  const { items, ...header } = row;
  const headerBytes = rowBytes({ ...header, items: [], part: { index: 0, count: 0 } } as ExposureRow) + 16;
  const parts: ExposureItem[][] = [];
  let current: ExposureItem[] = [];
  let bytes = headerBytes;
  for (const item of items) {
    const size = utf8.encode(JSON.stringify(item)).byteLength + 1;
    if (current.length > 0 && bytes + size > maxBytes) {
      parts.push(current);
      current = [];
      bytes = headerBytes;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) parts.push(current);
  return parts.map((part, index) => ({ ...header, items: part, part: { index, count: parts.length } }));
}

/**
 * Joins split rows back together (by request id, ts and unit; parts in index order); whole rows
 * pass through. A row with a missing part is dropped and counted.
 */
export function mergeExposureParts(rows: Iterable<ExposureRow>): { rows: ExposureRow[]; incomplete: number } {
  const out: ExposureRow[] = [];
  const pending = new Map<string, ExposureRow[]>();
  for (const row of rows) {
    if (!row.part) {
      out.push(row);
      continue;
    }
    const key = `${row.request_id}\u0000${row.ts}\u0000${row.unit.hash}`;
    const list = pending.get(key) ?? [];
    list.push(row);
    pending.set(key, list);
  }
  let incomplete = 0;
  for (const list of pending.values()) {
    const count = list[0]!.part!.count;
    const byIndex = new Map(list.map((r) => [r.part!.index, r]));
    if (byIndex.size !== count) {
      incomplete++;
      continue;
    }
    const ordered = Array.from({ length: count }, (_, i) => byIndex.get(i)!);
    const { part: _part, ...header } = ordered[0]!;
    out.push({ ...header, items: ordered.flatMap((r) => r.items) });
  }
  out.sort((a, b) => a.ts - b.ts || (a.request_id < b.request_id ? -1 : a.request_id > b.request_id ? 1 : 0));
  return { rows: out, incomplete };
}
