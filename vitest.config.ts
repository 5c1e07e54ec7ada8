import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: { name: 'node', include: ['test/node/**/*.test.ts'], environment: 'node', testTimeout: 60_000 },
      },
      {
        // End to end: the worker on workerd (wrangler dev on a free loopback port, local KV with the
        // tiny world) driven by Debian's chromium through playwright-core.
        test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], environment: 'node', testTimeout: 120_000, hookTimeout: 150_000 },
      },
      {
        // Worker tests run inside workerd with the real bindings from wrangler.toml (KV simulated
        // by Miniflare); the global setup runs in Node and computes offline reference scores.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            // Tests flip fs:active and expect the next request to see it. Exposure logging is off by
            // default (tests that check it turn it on per request with EXPOSURE_SINK: 'kv'). Miniflare's
            // KV is far slower than production's, so the rank deadline is generous here; the fault tests
            // set their own. The secrets are test values.
            miniflare: {
              bindings: {
                FEATURE_SET_REFRESH_MS: '0',
                EXPOSURE_SINK: 'off',
                RANK_DEADLINE_MS: '10000',
                EXPERIMENT_SALT: 'test-salt',
                EXPERIMENT_OVERRIDE_TOKEN: 'test-override-token',
                ADMIN_TOKEN: 'test-admin-token',
              },
            },
          }),
        ],
        // isolate: false shares one module graph across files: the 14 MB ORT wasm reaches workerd once
        // per run (the pool ships it as a JSON array, ~12 s) instead of once per file. The first test waits
        // for that, hence the long timeouts (a loaded 2-core machine took 31 s).
        test: { name: 'workers', isolate: false, include: ['test/worker/**/*.test.ts'], globalSetup: ['test/worker/global-setup.ts'], testTimeout: 120_000, hookTimeout: 120_000 },
      },
    ],
  },
});
