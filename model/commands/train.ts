// npm run train: reproduces the shipped model. Generates (or reuses) the synthetic world, trains the
// ESMM ranker on its impression log with point-in-time features, exports fp32 and int8 ONNX with
// the manifest into model/artifacts/<id>/, and regenerates the worker's bundled-model list.
import { resolve } from 'node:path';
import { Command } from 'commander';
import { ensureWorldFiles } from '../pipeline/ensure-world.ts';
import { writeArtifact, writeBundledModels } from '../pipeline/artifacts.ts';
import { REFERENCE_FEATURES, trainRanker } from '../pipeline/train-ranker.ts';
import { loadWorldLog } from '../pipeline/world-log.ts';
import { isPresetName, worldSettings, type PresetName } from '../world/index.ts';
import { epochProgress } from './epoch-progress.ts';
import { addShapeOptions, referenceDistill, referenceTraining, type ShapeOptions } from './shape-options.ts';
import { intArg } from './args.ts';

const program = addShapeOptions(new Command())
  .name('npm run train --')
  .description('Train the reference ranker on a synthetic world and write model/artifacts/<id>/.')
  .option('--preset <name>', 'world preset: tiny | demo | 1m', 'demo')
  .option('--seed <n>', 'world seed', intArg(0))
  .option('--impressions <n>', 'impression log rows (default: the preset\'s)', intArg(1000))
  .option('--id <id>', 'model id (artifact directory name)', 'commerce-mtl')
  .option('--out <dir>', 'artifacts directory', 'model/artifacts')
  .option('--data <dir>', 'where worlds are generated', '.data')
  .option('--epochs <n>', 'maximum epochs (early stopping on validation loss)', intArg(1), 8)
  .option('--train-seed <n>', 'trainer seed', intArg(0), 1)
  .option('--validation-days <n>', 'days before the test days held out for early stopping', intArg(1), 3)
  .option('--test-days <n>', 'days at the end of the log held out for the manifest\'s metrics', intArg(0), 3)
  .option('--no-bundle', 'do not regenerate worker/model/bundled-models.ts')
  .option('--json', 'print one JSON summary as the last line', false)
  .parse();

interface Options extends ShapeOptions {
  preset: string;
  seed?: number;
  impressions?: number;
  id: string;
  out: string;
  data: string;
  epochs: number;
  trainSeed: number;
  validationDays: number;
  testDays: number;
  bundle: boolean;
  json: boolean;
}
const options = program.opts<Options>();

async function main(): Promise<void> {
  if (!isPresetName(options.preset)) throw new Error(`--preset must be one of tiny, demo, 1m; got '${options.preset}'`);
  const settings = worldSettings(options.preset as PresetName, {
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.impressions !== undefined ? { impressions: options.impressions } : {}),
  });
  const root = resolve(import.meta.dirname, '..', '..');
  const dir = await ensureWorldFiles(settings, resolve(options.data));
  const world = await loadWorldLog(dir);
  console.log(`world ${dir}: ${world.log.length} impressions, ${world.users.size} users, ${world.items.size} items`);
  const trained = await trainRanker(world, {
    modelId: options.id,
    validationDays: options.validationDays,
    testDays: options.testDays,
    features: REFERENCE_FEATURES(settings.items),
    train: { ...referenceTraining(options), epochs: options.epochs, seed: options.trainSeed, ...epochProgress() },
    distill: referenceDistill(options),
    provenance: { world: settings, data: 'synthetic world impression log (model/world), point-in-time features' },
    log: (line) => console.log(line),
  });
  const artifactDir = resolve(options.out, options.id);
  await writeArtifact(artifactDir, trained.manifest, trained.int8, trained.fp32);
  const bundled = options.bundle ? await writeBundledModels(root) : [];
  const { int8, fp32 } = trained.metrics;
  console.log(`wrote ${artifactDir} (model ${trained.manifest.model.id}@${trained.manifest.model.version}, int8 ${trained.int8.byteLength} bytes, fp32 ${trained.fp32.byteLength} bytes)`);
  console.log(`held-out CTR AUC int8 ${int8.ctr.auc} / fp32 ${fp32.ctr.auc}; CVR AUC int8 ${int8.cvr.auc} / fp32 ${fp32.cvr.auc}; CTCVR AUC int8 ${int8.ctcvr_auc}`);
  if (options.bundle) console.log(`worker bundles: ${bundled.join(', ')}`);
  if (options.json) {
    console.log(JSON.stringify({ id: trained.manifest.model.id, version: trained.manifest.model.version, dir: artifactDir, rows: trained.trainSet.click.length, metrics: trained.metrics }));
  }
}

main().catch((error: unknown) => {
  console.error(`train failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
