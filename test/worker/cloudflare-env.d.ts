// Types of `env` and `exports` from 'cloudflare:workers' inside the workerd tests.
declare namespace Cloudflare {
  interface Env {
    FEATURES: KVNamespace;
    DEFAULT_MODEL?: string;
    FEATURE_SET_REFRESH_MS?: string;
    RANK_DEADLINE_MS?: string;
    EXPOSURE_SINK?: string;
    EXPOSURES?: Queue;
    EXPERIMENT_SALT?: string;
    EXPERIMENT_OVERRIDE_TOKEN?: string;
    ADMIN_TOKEN?: string;
    CORS_ORIGINS?: string;
  }
  interface GlobalProps {
    mainModule: typeof import('../../worker/index.ts');
  }
}
