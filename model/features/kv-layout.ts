// KV key layout (DESIGN.md, "KV layout"), shared by the backfill that writes it and the worker that
// reads it.

/** Points at the live feature set: a JSON ActiveFeatureSet. */
export const ACTIVE_KEY = 'fs:active';

export interface ActiveFeatureSet {
  version: string;
  /** the record schema the set was written with, e.g. commerce-v2 */
  schema: string;
  written_at: string;
  users: number;
  items: number;
}

/** The kind segment of a record's key, `fs:<version>:<kind>:<id>`: u (user) or i (item). */
export type RecordKind = 'u' | 'i';
/** What every record key of a feature-set version starts with. */
export const versionPrefix = (version: string): string => `fs:${version}:`;
export const recordKey = (version: string, kind: RecordKind, id: string): string => `${versionPrefix(version)}${kind}:${id}`;
export const userKey = (version: string, userId: string): string => recordKey(version, 'u', userId);
export const itemKey = (version: string, itemId: string): string => recordKey(version, 'i', itemId);

/** KV keys are at most 512 bytes; ids are capped well below that by the API. */
export const MAX_KV_KEY_BYTES = 512;

export function parseActiveFeatureSet(value: unknown): ActiveFeatureSet | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (typeof v.version !== 'string' || typeof v.schema !== 'string' || v.version === '' || v.version.includes(':')) return null;
  return {
    version: v.version,
    schema: v.schema,
    written_at: typeof v.written_at === 'string' ? v.written_at : '',
    users: typeof v.users === 'number' ? v.users : 0,
    items: typeof v.items === 'number' ? v.items : 0,
  };
}
