// The project's npm scripts that run a TypeScript command ("tsx [node flags] file"), read from
// package.json, so that a tool starting one itself (the backfill bench, the CLI test) runs it as
// `npm run` would, flags included, without a copy of them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TsxScript {
  name: string;
  file: string;
  /** node flags before the file, which tsx passes to node */
  nodeFlags: string[];
}

export function tsxScripts(root: string): TsxScript[] {
  const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  return Object.entries(scripts)
    .filter(([, command]) => command.startsWith('tsx '))
    .map(([name, command]) => {
      const words = command.slice(4).trim().split(/\s+/);
      return { name, file: words[words.length - 1]!, nodeFlags: words.slice(0, -1) };
    });
}

export function tsxScript(root: string, name: string): TsxScript {
  const script = tsxScripts(root).find((s) => s.name === name);
  if (!script) throw new Error(`package.json has no "tsx ..." script named ${name}`);
  return script;
}
