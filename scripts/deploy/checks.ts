// The checks `npm run deploy` runs before `wrangler deploy`. Each returns a result instead of
// throwing, so a run reports every problem it can find at once (a --dry-run is a full report).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ACTIVE_KEY, parseActiveFeatureSet } from '../../model/features/kv-layout.ts';
import { buildBundle, BundleBuildError, measureBundle, type BundleSize } from '../bench/bundle.ts';

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
}

/** What kv_namespaces says before anyone ran `wrangler kv namespace create FEATURES`. */
export const PLACEHOLDER_NAMESPACE_ID = '00000000000000000000000000000000';

export interface Run {
  code: number | null;
  output: string;
}

/** Runs a command; its output is captured (and echoed with `echo`). */
export function run(command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; echo?: boolean }): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const take = (chunk: Buffer) => {
      output += chunk.toString();
      if (options.echo) process.stderr.write(chunk);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('error', (error) => resolve({ code: -1, output: `${output}${error.message}` }));
    child.once('close', (code) => resolve({ code, output }));
  });
}

/** The FEATURES namespace id the config (and --env) gives, or a failed check saying why not. */
export function namespaceCheck(kv: ReadonlyArray<{ binding: string; id?: string | undefined }> | undefined, where: string): { result: CheckResult; id?: string } {
  const name = 'KV namespace id';
  const features = kv?.find((n) => n.binding === 'FEATURES');
  if (!features?.id) return { result: { name, status: 'fail', detail: `${where} has no kv_namespaces entry with binding = "FEATURES" and an id` } };
  if (features.id === PLACEHOLDER_NAMESPACE_ID) {
    return {
      result: { name, status: 'fail', detail: `${where}: the FEATURES namespace id is still the placeholder ${PLACEHOLDER_NAMESPACE_ID}; create the namespace with \`npx wrangler kv namespace create FEATURES\` and put the id it prints in ${where}` },
    };
  }
  if (!/^[0-9a-f]{32}$/.test(features.id)) return { result: { name, status: 'fail', detail: `${where}: the FEATURES namespace id '${features.id}' is not 32 hex digits` } };
  return { result: { name, status: 'pass', detail: `FEATURES = ${features.id}` }, id: features.id };
}

/** Where wrangler keeps its `wrangler login` OAuth token. */
function wranglerLoginFiles(env: NodeJS.ProcessEnv): string[] {
  const home = env.HOME ?? homedir();
  const xdg = env.XDG_CONFIG_HOME ?? join(home, '.config');
  return [join(xdg, '.wrangler', 'config', 'default.toml'), join(home, '.wrangler', 'config', 'default.toml')];
}

/** Whether wrangler will find credentials: an API token (or global key) in the environment, or a `wrangler login`. */
export function credentialsCheck(env: NodeJS.ProcessEnv): CheckResult {
  const name = 'Cloudflare credentials';
  if (env.CLOUDFLARE_API_TOKEN) return { name, status: 'pass', detail: `CLOUDFLARE_API_TOKEN is set${env.CLOUDFLARE_ACCOUNT_ID ? ', CLOUDFLARE_ACCOUNT_ID too' : ''}` };
  if (env.CLOUDFLARE_API_KEY && env.CLOUDFLARE_EMAIL) return { name, status: 'pass', detail: 'CLOUDFLARE_API_KEY and CLOUDFLARE_EMAIL are set' };
  const login = wranglerLoginFiles(env).find((file) => existsSync(file));
  if (login) return { name, status: 'pass', detail: `wrangler login (${login})` };
  return {
    name,
    status: 'fail',
    detail: 'no Cloudflare credentials: set CLOUDFLARE_API_TOKEN (a token allowed to edit Workers scripts, Workers KV and Queues; CLOUDFLARE_ACCOUNT_ID if it reaches several accounts), or run `npx wrangler login`',
  };
}

/** Builds the deployable bundle with `wrangler deploy --dry-run --outdir` and measures it gzipped. */
export async function bundleCheck(root: string, outdir: string, wranglerArgs: readonly string[], maxGzipBytes: number, env: NodeJS.ProcessEnv): Promise<CheckResult & { size?: BundleSize }> {
  const name = 'bundle size';
  try {
    await buildBundle(root, outdir, { args: wranglerArgs, env });
  } catch (error) {
    if (!(error instanceof BundleBuildError)) throw error;
    return { name, status: 'fail', detail: `wrangler deploy --dry-run failed (exit ${error.code}):\n${error.output.trim().split('\n').slice(-15).join('\n')}` };
  }
  const size = await measureBundle(outdir);
  const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
  const detail = `${mb(size.gzip)} gzip (${mb(size.raw)} raw), limit ${mb(maxGzipBytes)} gzip`;
  return { name, status: size.gzip <= maxGzipBytes ? 'pass' : 'fail', detail, size };
}

/**
 * The target namespace serves a feature set of the schema the default model's manifest expects:
 * fs:active read with `wrangler kv key get --remote` (wrangler's own credentials).
 */
export async function featureSetCheck(root: string, namespaceId: string, schema: string, configArgs: readonly string[], env: NodeJS.ProcessEnv): Promise<CheckResult> {
  const name = 'feature set in KV';
  const read = await run(join(root, 'node_modules', '.bin', 'wrangler'), ['kv', 'key', 'get', ACTIVE_KEY, '--namespace-id', namespaceId, '--remote', '--text', ...configArgs], { cwd: root, env });
  const text = read.output.trim();
  if (read.code !== 0) return { name, status: 'fail', detail: `reading ${ACTIVE_KEY} of namespace ${namespaceId} failed (exit ${read.code}): ${text.split('\n').slice(-5).join(' ')}` };
  // wrangler prints the value; anything else it prints (warnings) comes before it
  const json = text.slice(text.lastIndexOf('\n{') + 1);
  let active;
  try {
    active = parseActiveFeatureSet(JSON.parse(json));
  } catch {
    active = null;
  }
  if (!active) {
    return { name, status: 'fail', detail: `namespace ${namespaceId} has no feature set (${ACTIVE_KEY}: ${text.slice(0, 120) || 'missing'}); publish one first: npm run backfill -- --remote --account-id <id> --namespace-id ${namespaceId} ...` };
  }
  if (active.schema !== schema) return { name, status: 'fail', detail: `namespace ${namespaceId} serves ${active.version} of schema ${active.schema}; the shipped model expects ${schema}: backfill a ${schema} feature set first` };
  return { name, status: 'pass', detail: `${active.version} (${active.schema}, ${active.users} users, ${active.items} items, written ${active.written_at})` };
}
