// npm run build:playground: compiles the playground page (worker/playground/page/) into the module the
// worker serves it from (worker/playground/assets.ts). --check only says whether that module is current.
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { ASSETS_MODULE, PAGE_DIR, playgroundAssetsModule } from './playground/assets-module.ts';

const program = new Command()
  .name('npm run build:playground --')
  .description(`Compile the playground page (${PAGE_DIR}: index.html, playground.css, playground.ts) into ${ASSETS_MODULE}, which the worker serves at /.`)
  .option('--check', `exit 1 if ${ASSETS_MODULE} is not what the sources give, without writing it`, false)
  .parse();
const options = program.opts<{ check: boolean }>();

const root = resolve(import.meta.dirname, '..');

async function main(): Promise<void> {
  const text = await playgroundAssetsModule(root);
  const target = join(root, ASSETS_MODULE);
  const current = await readFile(target, 'utf8').catch(() => null);
  if (options.check) {
    if (current !== text) {
      console.error(`${ASSETS_MODULE} is out of date with ${PAGE_DIR}: run \`npm run build:playground\``);
      process.exit(1);
    }
    console.log(`${ASSETS_MODULE} is current`);
    return;
  }
  if (current === text) {
    console.log(`${ASSETS_MODULE} is current`);
    return;
  }
  await writeFile(target, text);
  console.log(`wrote ${ASSETS_MODULE} (${(text.length / 1024).toFixed(1)} KiB)`);
}

main().catch((error: unknown) => {
  console.error(`build:playground: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
