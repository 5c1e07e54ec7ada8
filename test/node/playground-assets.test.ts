// The module the worker serves the playground from is what its sources compile to (run
// `npm run build:playground` after editing worker/playground/page/), and the page loads only
// same-origin files: no inline script, style or event handler, which a CSP of 'self' would refuse.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { ASSETS_MODULE, PAGE_DIR, playgroundAssetsModule } from '../../scripts/playground/assets-module.ts';

const ROOT = resolve(import.meta.dirname, '../..');

it('worker/playground/assets.ts is current with worker/playground/page/', async () => {
  const current = await readFile(join(ROOT, ASSETS_MODULE), 'utf8');
  expect(current === (await playgroundAssetsModule(ROOT)), `${ASSETS_MODULE} is out of date: run \`npm run build:playground\``).toBe(true);
});

it('the page has no inline script, style or handler', async () => {
  const html = await readFile(join(ROOT, PAGE_DIR, 'index.html'), 'utf8');
  expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
  const script = (await readFile(join(ROOT, PAGE_DIR, 'playground.ts'), 'utf8')).replace(/^\s*\/\/.*$/gm, ''); // code, not comments
  // the script builds the DOM with textContent: pasted ids never become markup
  expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\.style\./);
});
