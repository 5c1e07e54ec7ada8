// Every npm script that runs a TypeScript command (package.json "tsx ...") answers --help with a usage
// line (the npm command to type) and exit 0, and an unknown option with commander's one-line error
// and exit 1, not a stack trace. Each run is tsx's start-up and the command's imports, nothing else.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tsxScripts, type TsxScript } from '../../scripts/cli/npm-scripts.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const scripts = tsxScripts(ROOT);

function runScript(script: TsxScript, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [...script.nodeFlags, '--import', 'tsx', script.file, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('close', (code) => done({ code, output }));
  });
}

/** Runs `jobs` at most `limit` at a time (each is a Node process importing the project). */
async function pooled<T>(jobs: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const out: T[] = new Array<T>(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]!();
    }
  }));
  return out;
}

describe('npm scripts: --help and bad arguments', () => {
  it('finds the scripts', () => {
    expect(scripts.map((s) => s.name)).toEqual(expect.arrayContaining(['start', 'train', 'backfill', 'bench', 'bench:backfill', 'world', 'validate', 'eval', 'simulate', 'read-exposures', 'train:exposures', 'build:playground', 'deploy']));
  });

  it('each prints its usage on --help and exits 0', async () => {
    const runs = await pooled(scripts.map((s) => () => runScript(s, ['--help'])), 4);
    scripts.forEach((s, i) => {
      const { code, output } = runs[i]!;
      expect({ script: s.name, code }).toEqual({ script: s.name, code: 0 });
      expect(output, s.name).toMatch(/^Usage: npm (start|run \S+) --/m);
    });
  }, 120_000);

  it('each rejects an unknown option with a one-line error and exit 1, no stack trace', async () => {
    const runs = await pooled(scripts.map((s) => () => runScript(s, ['--no-such-option'])), 4);
    scripts.forEach((s, i) => {
      const { code, output } = runs[i]!;
      expect({ script: s.name, code }).toEqual({ script: s.name, code: 1 });
      // commander's usage error: the unknown option, or a required option checked before it
      expect(output, s.name).toMatch(/^error: (unknown option '--no-such-option'|required option '.+' not specified)$/m);
      expect(output, s.name).not.toMatch(/^\s+at /m);
    });
  }, 120_000);
});
