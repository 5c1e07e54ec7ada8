// The playground end to end in a real browser: Debian's chromium driven by playwright-core against
// the worker on workerd (wrangler dev, a local KV holding the tiny world). Clicks through the page:
// pick a user and a sample slate, rank, switch the objective, switch the arm with the QA token; each
// switch must change the served order. The page runs under a strict same-origin CSP injected here
// (what the worker's security headers will send), and leaves a screenshot in .data/artifacts/.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startE2eWorker, type E2eWorker } from './worker-server.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TOKEN = 'e2e-override-token';
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const ARTIFACT = join(ROOT, '.data', 'artifacts', 'playground.png');

let worker: E2eWorker | undefined;
let browser: Browser | undefined;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  [worker, browser] = await Promise.all([
    startE2eWorker({
      PLAYGROUND_SAMPLES: 'on',
      // every user is assigned 'model'; 'popular' is reachable only through the QA override
      EXPERIMENTS: JSON.stringify({ experiment: 'e2e', arms: [{ name: 'model', kind: 'model', share: 100 }, { name: 'popular', kind: 'popularity', share: 0 }] }),
      EXPERIMENT_OVERRIDE_TOKEN: TOKEN,
      EXPERIMENT_SALT: 'e2e-salt',
      EXPOSURE_SINK: 'off',
      // Miniflare's KV is slow on a loaded machine: no kv_timeout fallback in the middle of a click-through
      RANK_DEADLINE_MS: '5000',
    }),
    chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] }),
  ]);
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // the refused arm switch below is a 401/403 the browser logs; anything else (a CSP refusal) counts
    if (message.type() === 'error' && !/Failed to load resource: .* status of 40[13]/.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  // The document gets a strict CSP: inline script or style would be refused (and reported above).
  await page.route(`${worker.base}/`, async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, headers: { ...response.headers(), 'content-security-policy': CSP } });
  });
}, 150_000);

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
});

const servedOrder = () => page.$$eval('#ranked-order tbody tr', (rows) => rows.map((row) => row.getAttribute('data-id') ?? ''));
const requestOrder = () => page.$$eval('#request-order tbody tr td.id', (cells) => cells.map((cell) => cell.textContent ?? ''));
const text = (selector: string) => page.locator(selector).innerText();
// The page functions below run in chromium (as functions: the page's CSP refuses eval'd strings).
// This project compiles against workerd's types, without the DOM; they use this much of it.
interface PageNode {
  textContent: string | null;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageNode | null;
}
declare const document: PageNode;

const waitForText = (selector: string, pattern: RegExp) =>
  page.waitForFunction(({ s, p }) => new RegExp(p).test(document.querySelector(s)?.textContent ?? ''), { s: selector, p: pattern.source }, { timeout: 20_000 });

describe('playground in chromium', () => {
  it('ranks a sample slate for a user, then shows the order change when the objective or the arm switches', async () => {
    await page.goto(`${worker!.base}/`);
    await waitForText('#status', /feature set fs-e2e/);
    const users = await page.$$eval('#users option', (options) => options.map((o) => o.getAttribute('value') ?? ''));
    expect(users.length).toBeGreaterThan(1);
    const slates = await page.$$eval('#slate option', (options) => options.map((o) => o.textContent ?? ''));
    expect(slates[0]).toMatch(/^search: \d+ items/);

    // pick the second sample user and the first slate, then rank
    await page.fill('#user', users[1]!);
    await page.selectOption('#slate', '0');
    await page.click('#rank');
    await waitForText('#meta-arm', /^model/);
    const asked = await requestOrder();
    const byRevenue = await servedOrder();
    expect(asked.length).toBeGreaterThan(5);
    expect([...byRevenue].sort()).toEqual([...asked].sort());
    expect(byRevenue).not.toEqual(asked);
    expect(await text('#meta-objective')).toMatch(/expected_revenue/);
    expect(await text('#meta-model')).toMatch(/^commerce-mtl @ [0-9a-f]+/);
    const first = page.locator('#ranked-order tbody tr').first();
    expect(await first.locator('td').nth(3).innerText()).toMatch(/^0\.\d+/); // p_ctr
    expect(await first.locator('td').nth(4).innerText()).toMatch(/^0\.\d+/); // p_cvr

    // switch the objective: the page re-ranks at once
    await page.selectOption('#objective', 'ctr');
    await waitForText('#meta-objective', /^ctr$/);
    const byClicks = await servedOrder();
    expect(byClicks).not.toEqual(byRevenue);
    const ctrs = await page.$$eval('#ranked-order tbody tr', (rows) => rows.map((row) => Number(row.children[3]!.textContent)));
    expect(ctrs).toEqual([...ctrs].sort((a, b) => b - a));

    // switch the arm without the token: refused, and said so
    await page.selectOption('#arm', 'popular');
    await waitForText('#error', /^40[13] .*needs the QA token/);
    // with the token: the popularity arm serves its own order
    await page.fill('#token', TOKEN);
    await page.click('#rank');
    await waitForText('#meta-arm', /^popular \(popularity\)/);
    expect(await page.locator('#error').isHidden()).toBe(true);
    expect(await text('#meta-model')).toBe('popularity @ click_coec');
    const byPopularity = await servedOrder();
    expect(byPopularity).not.toEqual(byClicks);

    // back to the model arm and its own objective, with a business rule pasted into the request
    await page.selectOption('#arm', 'model');
    await page.selectOption('#objective', '');
    await waitForText('#meta-arm', /^model/);
    const pinned = asked[asked.length - 1]!;
    await page.fill('#items', JSON.stringify({ items: asked.map((id) => ({ id })), rules: { pin: [{ id: pinned, position: 1 }] } }));
    await page.click('#rank');
    await page.waitForFunction((id) => document.querySelector('#ranked-order tbody tr')?.getAttribute('data-id') === id, pinned, { timeout: 20_000 });
    expect(await page.locator('#ranked-order tbody tr').first().locator('td.rules').innerText()).toMatch(/^pin: \d+ → 1/);

    await mkdir(join(ROOT, '.data', 'artifacts'), { recursive: true });
    // the screenshot shows the model arm's ranking of the first sample slate
    await page.selectOption('#slate', '0');
    await page.click('#rank');
    await page.waitForFunction(() => !(document.querySelector('#ranked-order tbody tr td.rules')?.textContent ?? '').startsWith('pin'), undefined, { timeout: 20_000 });
    await page.screenshot({ path: ARTIFACT, fullPage: true });
    expect(existsSync(ARTIFACT)).toBe(true);
    expect(problems).toEqual([]);
  });
});
