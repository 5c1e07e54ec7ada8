// Generates a synthetic commerce world (users, catalog, impression log) into a directory.
//   npx tsx scripts/world.ts --preset tiny|demo|1m [--seed N] [--users N] [--items N] [--impressions N] [--out DIR] [--json]
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import { join } from 'node:path';
import {
  PRESET_NAMES,
  WorldSettingsError,
  createWorld,
  worldSettings,
  writeWorld,
  type PresetName,
  type WorldSettings,
  type WritePhase,
  type WriteProgress,
} from '../model/world/index.ts';

/** Runs this large or larger get a progress bar (when stderr is a terminal). */
const PROGRESS_BAR_ROWS = 200_000;

function integerOption(min: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}`);
    }
    return value;
  };
}

function slateRange(text: string): { min: number; max: number } {
  const match = /^(\d+)-(\d+)$/.exec(text.trim());
  if (!match) throw new InvalidArgumentError('expected MIN-MAX, e.g. 10-30');
  return { min: Number(match[1]), max: Number(match[2]) };
}

interface CliOptions {
  preset: PresetName;
  seed?: number;
  users?: number;
  items?: number;
  impressions?: number;
  days?: number;
  slate?: { min: number; max: number };
  name?: string;
  out?: string;
  json?: boolean;
}

const program = new Command()
  .name('npm run world --')
  .description('Generate a seeded synthetic commerce world: users.csv, items.csv, impressions.csv and world.json.')
  .addOption(new Option('--preset <name>', 'base settings').choices(PRESET_NAMES).default('demo'))
  .option('--seed <n>', 'random seed (0 to 2^32-1)', integerOption(0))
  .option('--users <n>', 'number of users', integerOption(1))
  .option('--items <n>', 'number of catalog items', integerOption(1))
  .option('--impressions <n>', 'rows of the impression log (0: tables only)', integerOption(0))
  .option('--days <n>', 'days the log spans', integerOption(1))
  .option('--slate <min-max>', 'slate size range per request, e.g. 10-30', slateRange)
  .option('--name <name>', 'world name (default: the preset plus any overridden sizes)')
  .option('--out <dir>', 'output directory (default: .data/worlds/<name>)')
  .option('--json', 'end with one JSON line: {"out","users","items","impressions","ctr","cvr","seconds"}')
  .addHelpText(
    'after',
    `
Presets:
  tiny   300 users, 400 items, 8k impressions over 7 days (for tests)
  demo   3k users, 1.5k items, 150k impressions over 28 days (the shipped model and the demo KV)
  1m     10k users, 4k items, 1M impressions over 28 days

Examples:
  npx tsx scripts/world.ts --preset demo
  npx tsx scripts/world.ts --preset tiny --seed 7 --out /tmp/tiny7 --json
  npx tsx scripts/world.ts --users 1000000 --items 1000000 --impressions 0`,
  );

/** The settings asked for; the default name records what differs from the preset. */
function settingsFrom(options: CliOptions): WorldSettings {
  const overrides: Partial<WorldSettings> = {};
  const suffix: string[] = [];
  for (const key of ['seed', 'users', 'items', 'impressions', 'days'] as const) {
    const value = options[key];
    if (value !== undefined) {
      overrides[key] = value;
      suffix.push(`${key}${value}`);
    }
  }
  if (options.slate) {
    overrides.slateSize = options.slate;
    suffix.push(`slate${options.slate.min}-${options.slate.max}`);
  }
  overrides.name = options.name ?? [options.preset, ...suffix].join('-');
  return worldSettings(options.preset, overrides);
}

/** A progress bar over all rows of the run, on stderr, only for a terminal and a large run. */
function progressReporter(settings: WorldSettings): { update: (p: WriteProgress) => void; stop: () => void } {
  const total = settings.users + settings.items + settings.impressions;
  if (!process.stderr.isTTY || total < PROGRESS_BAR_ROWS) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: '{phase} |{bar}| {percentage}% | {value}/{total} rows | {rate} rows/s | ETA {eta_formatted}',
      etaBuffer: 50,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const offset: Record<WritePhase, number> = { users: 0, items: settings.users, impressions: settings.users + settings.items };
  const started = performance.now();
  const label = (phase: WritePhase) => phase.padEnd('impressions'.length);
  bar.start(total, 0, { phase: label('users'), rate: '0' });
  return {
    update: ({ phase, done }) => {
      const value = offset[phase] + done;
      const rate = Math.round(value / Math.max(1e-3, (performance.now() - started) / 1000));
      bar.update(value, { phase: label(phase), rate: rate.toLocaleString('en-US') });
    },
    stop: () => bar.stop(),
  };
}

const percent = (x: number | null): string => (x === null ? 'n/a' : `${(100 * x).toFixed(2)}%`);
const count = (x: number): string => x.toLocaleString('en-US');

async function main(): Promise<void> {
  program.parse();
  const options = program.opts<CliOptions>();
  let settings: WorldSettings;
  try {
    settings = settingsFrom(options);
  } catch (error) {
    if (error instanceof WorldSettingsError) program.error(`error: invalid settings: ${error.message}`);
    throw error;
  }
  const out = options.out ?? join('.data', 'worlds', settings.name);

  const started = performance.now();
  const progress = progressReporter(settings);
  const world = createWorld(settings);
  let file;
  try {
    file = await writeWorld(world, out, { onProgress: progress.update });
  } finally {
    progress.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  const stats = file.stats;
  const rows = stats.users + stats.items + stats.impressions;

  console.log(`world ${settings.name} (seed ${settings.seed}) -> ${out}`);
  console.log(`  users        ${count(stats.users)}`);
  console.log(`  items        ${count(stats.items)}`);
  console.log(`  impressions  ${count(stats.impressions)} in ${count(stats.requests)} requests over ${settings.days} days`);
  if (stats.impressions > 0) {
    console.log(`  CTR ${percent(stats.ctr)}, CVR given click ${percent(stats.cvr)}`);
    console.log(`  CTR at positions 1-5: ${stats.ctrByPosition.slice(0, 5).map(percent).join(', ')}`);
    console.log(`  oracle AUC on ${count(stats.oracleSampleRows)} sampled rows: CTR ${stats.oracleCtrAuc ?? 'n/a'}, CVR ${stats.oracleCvrAuc ?? 'n/a'}`);
  }
  console.log(`  ${seconds.toFixed(2)} s, ${count(Math.round(rows / seconds))} rows/s`);
  if (options.json) {
    const summary = { out, users: stats.users, items: stats.items, impressions: stats.impressions, ctr: stats.ctr, cvr: stats.cvr, seconds: Math.round(seconds * 1000) / 1000 };
    console.log(JSON.stringify(summary));
  }
}

main().catch((error: unknown) => {
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
