// Browser-facing protections, from Hono's own middleware:
//  - secure headers on every response, with a Content-Security-Policy that allows exactly a
//    same-origin page (the playground at GET /, which loads /playground.js and /playground.css and
//    calls /v1/* from its own origin) and nothing inline, framed, or fetched from elsewhere;
//  - CORS for the API (/v1/*): only the origins in the wrangler var CORS_ORIGINS (comma-separated,
//    or "*") get Access-Control-Allow-Origin; unset, no cross-origin browser call is allowed.
// The admin routes get no CORS at all: a browser on another origin cannot call them.
import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { secureHeaders } from 'hono/secure-headers';
import type { AppEnv } from '../env.ts';

export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

export function securityHeaders(): MiddlewareHandler<AppEnv> {
  return secureHeaders({ contentSecurityPolicy: CONTENT_SECURITY_POLICY, xFrameOptions: 'DENY', removePoweredBy: true });
}

/** The request headers a browser may send cross-origin to /v1/* (the override ones need a secret anyway). */
export const CORS_ALLOW_HEADERS = ['content-type', 'x-client-id', 'x-experiment-arm', 'x-experiment-token'];

const parsed = new Map<string, { any: boolean; origins: Set<string> }>();

/** CORS_ORIGINS parsed (and remembered per distinct value): "*" or exact origins, trailing slashes ignored. */
export function corsAllowlist(value: string | undefined): { any: boolean; origins: Set<string> } {
  const key = value ?? '';
  let list = parsed.get(key);
  if (!list) {
    const entries = key
      .split(',')
      .map((o) => o.trim().replace(/\/+$/, ''))
      .filter((o) => o !== '');
    list = { any: entries.includes('*'), origins: new Set(entries.filter((o) => o !== '*')) };
    if (parsed.size > 16) parsed.clear();
    parsed.set(key, list);
  }
  return list;
}

export function apiCors(): MiddlewareHandler<AppEnv> {
  const browserCors = corsForBrowsers();
  return async (c, next) => {
    // A storefront backend or the CDN calls without an Origin header: CORS means nothing to it, and
    // Hono's cors sets a header on c.res before the handler runs, which makes Hono copy the whole
    // response afterwards (~0.3 ms of a 100-item rank in workerd's profile). Vary still says that
    // a browser's call would be answered differently.
    if (c.req.method !== 'OPTIONS' && c.req.header('origin') === undefined) {
      c.header('Vary', 'Origin');
      return next();
    }
    return browserCors(c, next);
  };
}

function corsForBrowsers(): MiddlewareHandler<AppEnv> {
  return cors({
    origin: (origin, c) => {
      const list = corsAllowlist((c.env as AppEnv['Bindings']).CORS_ORIGINS);
      if (list.any) return '*';
      return origin !== '' && list.origins.has(origin) ? origin : null;
    },
    allowMethods: ['GET', 'POST', 'OPTIONS'],
    allowHeaders: CORS_ALLOW_HEADERS,
    exposeHeaders: ['Server-Timing'],
    maxAge: 600,
  });
}
