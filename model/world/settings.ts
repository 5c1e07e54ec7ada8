// What a world is made from: the seed and the sizes. Everything else is fixed in spec.ts, so two
// worlds with equal settings are identical.

export interface WorldSettings {
  /** names the output directory and the reports */
  name: string;
  /** integer, 0 <= seed < 2^32 */
  seed: number;
  users: number;
  items: number;
  /** rows of the impression log (the last request's slate is cut short to hit it exactly) */
  impressions: number;
  /** the log spans this many whole days from startTs */
  days: number;
  /** epoch ms, UTC midnight */
  startTs: number;
  /** slate size drawn uniformly in [min, max] per request */
  slateSize: { min: number; max: number };
  brands: number;
  latentDim: number;
}

export const PRESET_NAMES = ['tiny', 'demo', '1m'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

function preset(name: string, users: number, items: number, impressions: number, days: number): WorldSettings {
  const slateSize = Object.freeze({ min: 10, max: 30 });
  return Object.freeze({ name, seed: 1, users, items, impressions, days, startTs: Date.UTC(2025, 0, 6), slateSize, brands: 200, latentDim: 4 });
}

export const PRESETS: Readonly<Record<PresetName, WorldSettings>> = {
  /** for tests: generates in well under a second */
  tiny: preset('tiny', 300, 400, 8_000, 7),
  /** the shipped model trains on it; the local demo KV is filled from its tables */
  demo: preset('demo', 3_000, 1_500, 200_000, 28),
  /** a million impressions over a mid-size shop (the demo's catalog size, more users) */
  '1m': preset('1m', 5_000, 1_500, 1_000_000, 28),
};

export class WorldSettingsError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'WorldSettingsError';
  }
}

export function isPresetName(name: string): name is PresetName {
  return (PRESET_NAMES as readonly string[]).includes(name);
}

/** A preset with some fields replaced, validated. */
export function worldSettings(preset: PresetName, overrides: Partial<WorldSettings> = {}): WorldSettings {
  const merged = { ...PRESETS[preset], ...overrides };
  // Rebuilt field by field so that world.json always lists the settings in the same order.
  return validateSettings({
    name: merged.name,
    seed: merged.seed,
    users: merged.users,
    items: merged.items,
    impressions: merged.impressions,
    days: merged.days,
    startTs: merged.startTs,
    slateSize: { min: merged.slateSize.min, max: merged.slateSize.max },
    brands: merged.brands,
    latentDim: merged.latentDim,
  });
}

function requireInteger(field: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new WorldSettingsError(field, `must be an integer from ${min} to ${max}, got ${value}`);
  }
}

/** Throws a WorldSettingsError naming the first bad field; returns the settings unchanged. */
export function validateSettings(settings: WorldSettings): WorldSettings {
  if (typeof settings.name !== 'string' || !/^[A-Za-z0-9._-]+$/.test(settings.name)) {
    throw new WorldSettingsError('name', 'must be letters, digits, ".", "_" or "-"');
  }
  requireInteger('seed', settings.seed, 0, 2 ** 32 - 1);
  requireInteger('users', settings.users, 1, 100_000_000);
  requireInteger('items', settings.items, 1, 100_000_000);
  requireInteger('impressions', settings.impressions, 0);
  requireInteger('days', settings.days, 1, 3650);
  requireInteger('startTs', settings.startTs, 0);
  if (settings.startTs % 86_400_000 !== 0) throw new WorldSettingsError('startTs', 'must be a UTC midnight');
  requireInteger('slateSize.min', settings.slateSize.min, 1, 500);
  requireInteger('slateSize.max', settings.slateSize.max, settings.slateSize.min, 500);
  if (settings.slateSize.max > settings.items) {
    throw new WorldSettingsError('slateSize.max', `must not exceed the number of items (${settings.items}), got ${settings.slateSize.max}`);
  }
  requireInteger('brands', settings.brands, 20, 65_535);
  requireInteger('latentDim', settings.latentDim, 1, 64);
  return settings;
}
