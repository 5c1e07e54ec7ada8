// npm run train:exposures: trains a model on the worker's exposure log joined with outcomes
// (model/data/exposure-log.ts): the logged model inputs of the feature model named in the rows are
// the training rows, with that model's manifest (features, transforms, vocabularies) kept as it is.
// Writes <out>/<id>/ (int8 + fp32 ONNX + manifest.json); bundle it with `npm run validate -- --bundle`.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { exposureSlates, readExposureRows, readOutcomes, splitByTime } from '../data/exposure-log.ts';
import { parseManifest, type Manifest } from '../features/manifest.ts';
import { writeArtifact } from '../pipeline/artifacts.ts';
import { trainOnExposures } from '../pipeline/train-exposures.ts';
import { referenceDistill } from './shape-options.ts';
import { epochProgress } from './epoch-progress.ts';
import { intArg } from './args.ts';

const program = new Command()
  .name('npm run train:exposures --')
  .description("Train a ranker on the worker's exposure log (JSONL from npm run read-exposures) joined with outcomes (JSONL of {request_id, item_id, clicked, purchased}).")
  .requiredOption('--exposures <file>', 'exposure rows, JSONL')
  .requiredOption('--outcomes <file>', 'outcomes, JSONL')
  .option('--manifest <file>', "the feature model's manifest.json (default: model/artifacts/<features_model id>/manifest.json)")
  .option('--id <id>', 'the new model id', 'retrained')
  .option('--out <dir>', 'where to write <id>/', '.data/models')
  .option('--validation <fraction>', 'the last fraction of slates (by time) for early stopping', '0.1')
  .option('--epochs <n>', 'maximum epochs', intArg(1), 6)
  .option('--seed <n>', 'trainer seed', intArg(0), 1)
  .option('--teachers <n>', "networks to distil the new one from (default: the feature model's recipe, manifest training.distillation); 0: the labels alone", intArg(0))
  .option('--json', 'print one JSON summary as the last line', false)
  .parse();
const options = program.opts<{ exposures: string; outcomes: string; manifest?: string; id: string; out: string; validation: string; epochs: number; seed: number; teachers?: number; json: boolean }>();

async function main(): Promise<void> {
  const { rows, incomplete } = await readExposureRows(resolve(options.exposures));
  const outcomes = await readOutcomes(resolve(options.outcomes));
  const { slates, stats } = exposureSlates(rows, outcomes);
  if (slates.length === 0) throw new Error(`no exposure row with model inputs in ${options.exposures}`);
  const featuresModel = slates[0]!.featuresModel;
  const manifestPath = resolve(options.manifest ?? join('model', 'artifacts', featuresModel.id, 'manifest.json'));
  const base: Manifest = parseManifest(JSON.parse(await readFile(manifestPath, 'utf8')));
  if (base.model.version !== featuresModel.version) {
    throw new Error(`${manifestPath} is ${base.model.id}@${base.model.version}, the logged inputs are ${featuresModel.id}@${featuresModel.version}'s: pass --manifest with that version's manifest`);
  }
  console.log(`${stats.slates} slates (${stats.impressions} impressions, ${stats.clicks} clicks, ${stats.purchases} purchases) with ${featuresModel.id}@${featuresModel.version} inputs; skipped ${stats.skipped_no_inputs} without inputs, ${stats.skipped_other_model} of other models, ${incomplete} incomplete; ${stats.unmatched_outcomes} outcomes matched no served item`);
  const { train, holdout: valid } = splitByTime(slates, Number(options.validation));
  const trained = trainOnExposures(base, train, valid, { modelId: options.id, train: { epochs: options.epochs, seed: options.seed, positionInit: 'zero', ...epochProgress() }, ...(options.teachers !== undefined ? { distill: referenceDistill(options) } : {}), provenance: { exposures: options.exposures, outcomes: options.outcomes } });
  const dir = resolve(options.out, options.id);
  await writeArtifact(dir, trained.manifest, trained.int8, trained.fp32);
  console.log(`wrote ${dir} (${trained.manifest.model.id}@${trained.manifest.model.version}; ${trained.trainSet.click.length} training rows, best epoch ${trained.result.bestEpoch})`);
  if (options.json) console.log(JSON.stringify({ id: trained.manifest.model.id, version: trained.manifest.model.version, dir, rows: trained.trainSet.click.length, stats, validation: trained.result.validation }));
}

main().catch((error: unknown) => {
  console.error(`train:exposures failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
