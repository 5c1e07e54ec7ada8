// The model artifacts shipped in model/artifacts/, read from disk (Node side). The worker bundles
// the same directories in the same order (worker/model/bundled-models.ts is generated from them).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseManifest, type Manifest } from '../../model/features/manifest.ts';

export interface ShippedModel {
  dir: string;
  manifest: Manifest;
}

export async function shippedModels(root: string): Promise<ShippedModel[]> {
  const artifacts = join(root, 'model', 'artifacts');
  const names = (await readdir(artifacts, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  const models: ShippedModel[] = [];
  for (const name of names) {
    const dir = join(artifacts, name);
    const manifestPath = join(dir, 'manifest.json');
    try {
      models.push({ dir, manifest: parseManifest(JSON.parse(await readFile(manifestPath, 'utf8'))) });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new Error(`${manifestPath}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (models.length === 0) throw new Error(`no model artifact under ${artifacts}; run \`npm run train\``);
  return models;
}
