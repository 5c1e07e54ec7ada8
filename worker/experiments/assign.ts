// Assignment of a request to an arm: a keyed hash (HMAC-SHA-256, the key being the secret
// EXPERIMENT_SALT) of the experiment id and the unit - the user id, else the x-client-id header -
// mapped to [0, 100) and looked up in the arms' cumulative shares. The same unit always gets the
// same arm for the same experiment id and salt; a new experiment id reshuffles. Requests with
// neither id get the config's default arm. Only Web Crypto is used, so Node (tests, the simulator)
// computes exactly what the worker does.
import type { CompiledArm, CompiledExperiments } from './config.ts';

export type UnitKind = 'user' | 'client' | 'none';

export interface Unit {
  kind: UnitKind;
  /** the raw id (never logged; exposure rows carry hashUnit's output) */
  id?: string;
}

export interface Assignment {
  arm: CompiledArm;
  unit: Unit;
  /** the unit's position in [0, 100), or null when it had no id or the arm was overridden */
  bucket: number | null;
  /** set when the arm came from the QA override header */
  override: boolean;
}

/**
 * Stands in for a missing EXPERIMENT_SALT so that assignment still works (stable, but guessable);
 * exposure rows then carry no user hash at all rather than a hash anyone could reverse.
 */
export const UNSALTED = 'edge-ranker-unsalted';

const utf8 = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(salt: string): Promise<CryptoKey> {
  let key = keys.get(salt);
  if (!key) {
    if (keys.size > 8) keys.clear();
    key = crypto.subtle.importKey('raw', utf8.encode(salt), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    keys.set(salt, key);
  }
  return key;
}

async function hmac(salt: string, message: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(salt), utf8.encode(message)));
}

/** The unit's bucket in [0, 100): the first 48 bits of HMAC(salt, "assign\0<experiment>\0<unit>"). */
export async function computeBucket(salt: string, experiment: string, unitId: string): Promise<number> {
  const h = await hmac(salt, `assign\u0000${experiment}\u0000${unitId}`);
  let x = 0;
  for (let i = 0; i < 6; i++) x = x * 256 + h[i]!;
  return (x / 2 ** 48) * 100;
}

/**
 * Buckets of recently seen units, for one salt and experiment at a time: a shopper's requests come
 * in runs (page after page), and the HMAC through Web Crypto is ~15 us of a ~1 ms rank in workerd.
 * Bounded (oldest out first): at most BUCKET_MEMO_SIZE ids of up to 128 characters, ~1 MB.
 */
export const BUCKET_MEMO_SIZE = 4096;
const bucketMemo = { salt: '', experiment: '', buckets: new Map<string, number>() };

/** computeBucket, remembered per unit (the same value, without the hash when the unit was seen lately). */
export async function bucketOf(salt: string, experiment: string, unitId: string): Promise<number> {
  if (bucketMemo.salt !== salt || bucketMemo.experiment !== experiment) {
    bucketMemo.salt = salt;
    bucketMemo.experiment = experiment;
    bucketMemo.buckets.clear();
  }
  const known = bucketMemo.buckets.get(unitId);
  if (known !== undefined) return known;
  const bucket = await computeBucket(salt, experiment, unitId);
  // Another salt or experiment may have taken the memo while the hash ran: file it only if not.
  if (bucketMemo.salt === salt && bucketMemo.experiment === experiment) {
    if (bucketMemo.buckets.size >= BUCKET_MEMO_SIZE) bucketMemo.buckets.delete(bucketMemo.buckets.keys().next().value!);
    bucketMemo.buckets.set(unitId, bucket);
  }
  return bucket;
}

/** The arm whose cumulative share first exceeds the bucket. */
export function armForBucket(experiments: CompiledExperiments, bucket: number): CompiledArm {
  for (const { arm, upTo } of experiments.assignable) if (bucket < upTo) return arm;
  // Shares add up to 100 (validated); floating point can leave a sliver at the very top.
  return experiments.assignable[experiments.assignable.length - 1]!.arm;
}

export async function assignArm(experiments: CompiledExperiments, unit: Unit, salt: string | undefined): Promise<Assignment> {
  if (unit.id === undefined || unit.kind === 'none') {
    return { arm: experiments.byName.get(experiments.defaultArm)!, unit, bucket: null, override: false };
  }
  const bucket = await bucketOf(salt || UNSALTED, experiments.experiment, `${unit.kind}:${unit.id}`);
  return { arm: armForBucket(experiments, bucket), unit, bucket, override: false };
}

/**
 * The pseudonymous id an exposure row carries: hex of the first 16 bytes of
 * HMAC(salt, "<kind>\0<id>"); null without a salt (an unsalted hash of a user id is reversible by
 * anyone who can list candidate ids) or without an id.
 */
export async function hashUnit(unit: Unit, salt: string | undefined): Promise<string | null> {
  if (!salt || unit.id === undefined || unit.kind === 'none') return null;
  const h = await hmac(salt, `${unit.kind}\u0000${unit.id}`);
  let out = '';
  for (let i = 0; i < 16; i++) out += h[i]!.toString(16).padStart(2, '0');
  return out;
}
