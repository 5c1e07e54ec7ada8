// npm run deploy --dry-run: the offline checks run and pass (playground assets, shipped model, bundle
// size from `wrangler deploy --dry-run --outdir`), and it fails clearly - before deploying anything -
// on the placeholder KV namespace id of wrangler.toml and on missing Cloudflare credentials.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { credentialsCheck, namespaceCheck, PLACEHOLDER_NAMESPACE_ID } from '../../scripts/deploy/checks.ts';

const ROOT = resolve(import.meta.dirname, '../..');

describe('npm run deploy', () => {
  it('--dry-run: offline checks pass; the placeholder namespace id and missing credentials fail it, naming the fix', async () => {
    // no credentials: none in the environment, and a config home without a `wrangler login`
    const home = await mkdtemp(join(tmpdir(), 'deploy-home-'));
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), NO_COLOR: '1' };
    for (const key of ['CLOUDFLARE_API_TOKEN', 'CLOUDFLARE_API_KEY', 'CLOUDFLARE_EMAIL', 'CLOUDFLARE_ACCOUNT_ID']) delete env[key];
    try {
      const { code, output } = await new Promise<{ code: number | null; output: string }>((done) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/deploy.ts', '--dry-run', '--skip-tests'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let text = '';
        child.stdout.on('data', (d: Buffer) => (text += d.toString()));
        child.stderr.on('data', (d: Buffer) => (text += d.toString()));
        child.once('close', (c) => done({ code: c, output: text }));
      });
      expect(code, output).toBe(1);
      expect(output).toMatch(/✓ playground assets: /);
      expect(output).toMatch(/✓ shipped model: \S+ @ [0-9a-f]+, expects feature-set schema commerce-v2/);
      expect(output).toMatch(/✓ bundle size: \d+\.\d+ MB gzip \(\d+\.\d+ MB raw\), limit 5\.00 MB gzip/);
      expect(output).toContain(`✗ KV namespace id: wrangler.toml: the FEATURES namespace id is still the placeholder ${PLACEHOLDER_NAMESPACE_ID}; create the namespace with \`npx wrangler kv namespace create FEATURES\``);
      expect(output).toMatch(/✗ Cloudflare credentials: no Cloudflare credentials: set CLOUDFLARE_API_TOKEN .* or run `npx wrangler login`/);
      expect(output).toMatch(/- tests: --skip-tests/);
      expect(output).toMatch(/- feature set in KV: remote check \(--dry-run\)/);
      expect(output).toContain('2 check(s) failed: KV namespace id, Cloudflare credentials. Nothing was deployed.');
      expect(output).not.toMatch(/^\s+at /m);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  }, 120_000);

  it('accepts a real namespace id and any of the credentials wrangler reads', () => {
    expect(namespaceCheck([{ binding: 'FEATURES', id: '0123456789abcdef0123456789abcdef' }], 'wrangler.toml')).toMatchObject({ result: { status: 'pass' }, id: '0123456789abcdef0123456789abcdef' });
    expect(namespaceCheck([{ binding: 'FEATURES', id: 'not-an-id' }], 'wrangler.toml').result.status).toBe('fail');
    expect(namespaceCheck([], 'wrangler.toml').result.detail).toMatch(/no kv_namespaces entry with binding = "FEATURES"/);
    expect(credentialsCheck({ CLOUDFLARE_API_TOKEN: 't' }).status).toBe('pass');
    expect(credentialsCheck({ CLOUDFLARE_API_KEY: 'k', CLOUDFLARE_EMAIL: 'e' }).status).toBe('pass');
    expect(credentialsCheck({ HOME: '/nonexistent', XDG_CONFIG_HOME: '/nonexistent' }).status).toBe('fail');
  });
});
