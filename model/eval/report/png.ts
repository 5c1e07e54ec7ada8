// A PNG of the top of a report, for the README: a headless Chromium screenshot of the local file,
// offline (the page loads nothing). Chromium is optional: without it, no PNG and a reason why.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

function run(command: string, args: string[], timeoutMs: number): Promise<{ ok: boolean; output: string }> {
  return new Promise((done) => {
    execFile(command, args, { timeout: timeoutMs }, (error, stdout, stderr) => done({ ok: !error, output: `${stdout}${stderr}`.trim() }));
  });
}

/** The first Chromium-like browser on PATH (or $CHROMIUM), or null. */
export async function findChromium(): Promise<string | null> {
  const candidates = process.env.CHROMIUM ? [process.env.CHROMIUM, ...CANDIDATES] : CANDIDATES;
  for (const c of candidates) {
    const { ok } = await run(c, ['--version'], 10_000);
    if (ok) return c;
  }
  return null;
}

/** Screenshots `htmlPath` into `pngPath` (width x height CSS pixels). Resolves to null or why not. */
export async function renderPng(htmlPath: string, pngPath: string, size: { width: number; height: number } = { width: 1180, height: 2000 }): Promise<string | null> {
  const chromium = await findChromium();
  if (!chromium) return 'no chromium on PATH (apt-get install -y chromium), so no PNG';
  await rm(resolve(pngPath), { force: true });
  const profile = await mkdtemp(resolve(tmpdir(), 'eval-png-'));
  try {
    const { ok, output } = await run(
      chromium,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--hide-scrollbars',
        '--no-first-run',
        '--disable-extensions',
        `--user-data-dir=${profile}`,
        `--window-size=${size.width},${size.height}`,
        `--screenshot=${resolve(pngPath)}`,
        pathToFileURL(resolve(htmlPath)).href,
      ],
      120_000,
    );
    const written = await stat(resolve(pngPath)).then((s) => s.size > 0, () => false);
    if (!ok || !written) return `chromium failed: ${output.split('\n').slice(-3).join(' ')}`;
    return null;
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}
