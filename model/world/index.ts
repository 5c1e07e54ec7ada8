// The synthetic commerce world: seeded users, catalog, contexts and ground truth, the impression
// log of a popularity-based logging policy, and the files they are written to.
export { createWorld, World, type SampledRequest, type WorldContext, type WorldDescription } from './world.ts';
export { PRESETS, PRESET_NAMES, WorldSettingsError, isPresetName, validateSettings, worldSettings, type PresetName, type WorldSettings } from './settings.ts';
export { Rng } from './rng.ts';
export { generateImpressions, generateLoggedSlates, slateImpressions, type LoggedSlate } from './impression-log.ts';
export { LogStats, type LogSummary } from './log-stats.ts';
export { rocAuc, sigmoid } from './math.ts';
export { CsvFormatError, readCsvTable, readImpressions, readItems, readUsers } from './csv-reader.ts';
export { IMPRESSION_SCHEMA, ITEM_SCHEMA, USER_SCHEMA, schemaColumns, type FieldKind, type TableSchema } from './table-schemas.ts';
export { WORLD_FILES, impressionRng, writeWorld, type WorldFile, type WritePhase, type WriteProgress, type WriteWorldOptions } from './write-world.ts';
export { CATEGORIES, DEVICES, LOYALTY_TIERS, PAGES, SEGMENTS, TRUTH, WORLD_VERSION, type Device, type Page } from './spec.ts';
