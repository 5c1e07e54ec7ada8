// The demo world behind the shipped model: regenerated deterministically from the settings in the
// model's manifest when .data/ does not hold it yet.
import { ensureWorldFiles } from '../../model/pipeline/ensure-world.ts';
import type { WorldSettings } from '../../model/world/index.ts';
import { shippedModels } from './shipped-models.ts';

export interface DemoWorld {
  dir: string;
  modelId: string;
  settings: WorldSettings;
}

export async function ensureDemoWorld(root: string, dataDir: string): Promise<DemoWorld> {
  const [model] = await shippedModels(root);
  const settings = (model!.manifest.training as { world?: WorldSettings } | undefined)?.world;
  if (!settings) throw new Error(`${model!.dir}/manifest.json has no training.world settings to rebuild its demo world from`);
  const dir = await ensureWorldFiles(settings, dataDir);
  return { dir, modelId: model!.manifest.model.id, settings };
}
