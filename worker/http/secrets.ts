// Checking a presented secret (admin bearer token, QA override token) against the configured one
// without leaking it through timing: both are hashed first (SHA-256), so the compare sees two 32-byte
// digests whatever the lengths, then compared in constant time - with Workers'
// crypto.subtle.timingSafeEqual, or an accumulated XOR where it does not exist (Node, for tests).
import type { Context } from 'hono';

const utf8 = new TextEncoder();

type SubtleWithTimingSafeEqual = SubtleCrypto & { timingSafeEqual?: (a: ArrayBuffer | ArrayBufferView, b: ArrayBuffer | ArrayBufferView) => boolean };

/** Whether two strings are equal, in time independent of where they differ and of their lengths. */
export async function constantTimeEqual(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([crypto.subtle.digest('SHA-256', utf8.encode(a)), crypto.subtle.digest('SHA-256', utf8.encode(b))]);
  const subtle = crypto.subtle as SubtleWithTimingSafeEqual;
  if (typeof subtle.timingSafeEqual === 'function') return subtle.timingSafeEqual(x, y);
  const u = new Uint8Array(x);
  const v = new Uint8Array(y);
  let diff = 0;
  for (let i = 0; i < u.length; i++) diff |= u[i]! ^ v[i]!;
  return diff === 0;
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), if any. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match?.[1];
}

export type SecretCheck = 'ok' | 'not_configured' | 'missing' | 'wrong';

/**
 * Checks the request's token - the bearer token, else `header` when given - against every
 * configured secret of `secrets` (unset ones skipped). All are compared, so timing does not say
 * which one matched.
 */
export async function checkToken(c: Context, secrets: ReadonlyArray<string | undefined>, header?: string): Promise<SecretCheck> {
  const configured = secrets.filter((s): s is string => typeof s === 'string' && s !== '');
  if (configured.length === 0) return 'not_configured';
  const token = bearerToken(c.req.header('authorization')) ?? (header ? c.req.header(header) : undefined);
  if (token === undefined || token === '') return 'missing';
  const matches = await Promise.all(configured.map((secret) => constantTimeEqual(token, secret)));
  return matches.includes(true) ? 'ok' : 'wrong';
}
