// npm run deploy: checks, then `wrangler deploy`. The checks: the playground assets are current, the
// config names a real FEATURES namespace, credentials exist, the test suite passes (unless
// --skip-tests), the deployable bundle is at most 5 MB gzipped, and the target KV serves a feature
// set of the schema the shipped model expects. --dry-run runs every check that needs no network and
// stops before deploying. Arguments after `--` go to `wrangler deploy` as they are.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { shippedModels } from './demo/shipped-models.ts';
import { ASSETS_MODULE, PAGE_DIR, playgroundAssetsModule } from './playground/assets-module.ts';
import { WRANGLER_ENV } from './bench/bundle.ts';
import { bundleCheck, credentialsCheck, featureSetCheck, namespaceCheck, run, type CheckResult } from './deploy/checks.ts';

const program = new Command()
  .name('npm run deploy --')
  .description('Check, then deploy the worker with `wrangler deploy`. Arguments after `--` are passed on to wrangler deploy.')
  .argument('[wrangler-args...]', 'passed on to `wrangler deploy` (put them after --, e.g. -- --keep-vars)')
  .option('--env <name>', 'wrangler environment ([env.<name>] of wrangler.toml), for the checks and the deploy')
  .option('--config <file>', 'wrangler configuration file', 'wrangler.toml')
  .option('--dry-run', 'run the checks that need no network, then stop before deploying', false)
  .option('--skip-tests', 'do not run `npm test` first', false)
  .option('--max-gzip-mb <mb>', 'largest gzipped bundle allowed, in MB (10^6 bytes)', (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
    return n;
  }, 5)
  .showHelpAfterError()
  .parse();

interface Options {
  env?: string;
  config: string;
  dryRun: boolean;
  skipTests: boolean;
  maxGzipMb: number;
}
const options = program.opts<Options>();
const passThrough = program.args;
const root = resolve(import.meta.dirname, '..');
const configPath = resolve(options.config);
const configArgs = ['--config', configPath, ...(options.env ? ['--env', options.env] : [])];
const t0 = performance.now();
const results: CheckResult[] = [];

const mark = { pass: '✓', fail: '✗', skip: '-' } as const;
function report(result: CheckResult): void {
  results.push(result);
  const seconds = ((performance.now() - t0) / 1000).toFixed(0).padStart(3);
  console.log(`[${seconds} s] ${mark[result.status]} ${result.name}: ${result.detail}`);
}
function step(message: string): void {
  console.log(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(3)} s]   ${message} ...`);
}

async function readWranglerConfig(): Promise<{ kv: Array<{ binding: string; id?: string | undefined }> | undefined; name: string | undefined }> {
  // wrangler's own reader (an unstable export of the pinned wrangler 4.86.0): it resolves [env.*]
  // sections exactly as `wrangler deploy --env` will.
  const { unstable_readConfig } = await import('wrangler');
  const config = unstable_readConfig({ config: configPath, ...(options.env ? { env: options.env } : {}) }, { hideWarnings: true });
  return { kv: config.kv_namespaces, name: config.name };
}

async function main(): Promise<void> {
  console.log(`deploy checks${options.dryRun ? ' (--dry-run: nothing is deployed, remote checks are skipped)' : ''}; config ${configPath}${options.env ? `, env ${options.env}` : ''}`);

  const current = (await readFile(join(root, ASSETS_MODULE), 'utf8').catch(() => '')) === (await playgroundAssetsModule(root));
  report({ name: 'playground assets', status: current ? 'pass' : 'fail', detail: current ? `${ASSETS_MODULE} is current` : `${ASSETS_MODULE} is out of date with ${PAGE_DIR}: run \`npm run build:playground\`` });

  let config;
  try {
    config = await readWranglerConfig();
  } catch (error) {
    report({ name: 'wrangler config', status: 'fail', detail: `${configPath}: ${error instanceof Error ? error.message : String(error)}` });
  }
  const namespace = config ? namespaceCheck(config.kv, options.config) : undefined;
  if (namespace) report(namespace.result);
  report(credentialsCheck(process.env));

  const [model] = await shippedModels(root);
  const schema = model!.manifest.feature_set.schema;
  report({ name: 'shipped model', status: 'pass', detail: `${model!.manifest.model.id} @ ${model!.manifest.model.version}, expects feature-set schema ${schema}` });

  const cheapFailed = results.some((r) => r.status === 'fail');
  if (options.skipTests) report({ name: 'tests', status: 'skip', detail: '--skip-tests' });
  else if (cheapFailed && options.dryRun === false) report({ name: 'tests', status: 'skip', detail: 'not run: fix the failures above first' });
  else {
    step('npm test (about 5 minutes)');
    const tests = await run('npm', ['test'], { cwd: root, echo: true });
    report({ name: 'tests', status: tests.code === 0 ? 'pass' : 'fail', detail: tests.code === 0 ? 'npm test passed' : `npm test failed (exit ${tests.code}); see its output above` });
  }

  step('building the bundle (wrangler deploy --dry-run --outdir)');
  report(await bundleCheck(root, join(root, '.data', 'deploy', 'dist'), configArgs, options.maxGzipMb * 1e6, WRANGLER_ENV));

  const credentials = results.find((r) => r.name === 'Cloudflare credentials')!;
  if (options.dryRun) report({ name: 'feature set in KV', status: 'skip', detail: 'remote check (--dry-run)' });
  else if (!namespace?.id || credentials.status !== 'pass') report({ name: 'feature set in KV', status: 'skip', detail: 'needs a namespace id and credentials' });
  else {
    step(`reading fs:active of namespace ${namespace.id}`);
    report(await featureSetCheck(root, namespace.id, schema, configArgs, WRANGLER_ENV));
  }

  const failed = results.filter((r) => r.status === 'fail');
  if (failed.length > 0) {
    console.error(`\n${failed.length} check(s) failed: ${failed.map((r) => r.name).join(', ')}. Nothing was deployed.`);
    process.exit(1);
  }
  if (options.dryRun) {
    console.log('\nall offline checks passed; --dry-run: stopping before `wrangler deploy`.');
    return;
  }
  const args = ['deploy', ...configArgs, ...passThrough];
  console.log(`\nall checks passed; wrangler ${args.join(' ')}`);
  const deploy = await run(join(root, 'node_modules', '.bin', 'wrangler'), args, { cwd: root, env: WRANGLER_ENV, echo: true });
  process.exit(deploy.code ?? 1);
}

main().catch((error: unknown) => {
  console.error(`deploy: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
