import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: { name: 'node', include: ['test/node/**/*.test.ts'], environment: 'node', testTimeout: 60_000 },
      },
      {
        // Worker tests run inside workerd with the real bindings from wrangler.toml (KV simulated
        // by Miniflare); the global setup runs in Node and computes offline reference scores.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            // Tests flip fs:active and expect the next request to see it.
            miniflare: { bindings: { FEATURE_SET_REFRESH_MS: '0' } },
          }),
        ],
        // isolate: false shares one module graph across files: the 14 MB ORT wasm reaches workerd once
        // per run (the pool ships it as a JSON array, ~12 s) instead of once per file.
        test: { name: 'workers', isolate: false, include: ['test/worker/**/*.test.ts'], globalSetup: ['test/worker/global-setup.ts'], testTimeout: 30_000 },
      },
    ],
  },
});
