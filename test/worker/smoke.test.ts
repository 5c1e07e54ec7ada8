import { exports, env } from 'cloudflare:workers';
import { expect, it } from 'vitest';
it('healthz', async () => {
  const res = await exports.default.fetch('http://x/healthz');
  expect(res.status).toBe(200);
  await env.FEATURES.put('a', 'b');
  expect(await env.FEATURES.get('a')).toBe('b');
});
