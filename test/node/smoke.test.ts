import { expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
it('node', () => { expect(readFileSync('package.json', 'utf8')).toContain('edge-ranker'); });
