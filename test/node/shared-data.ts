// The real datasets live beside the repository, in ../shared/data (read in place, never copied).
// A clone anywhere else has none: the tests that read them are skipped there, with a warning naming
// the path, instead of failing the suite.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export const EXPEDIA_DIR = resolve(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'expedia-icdm2013');
export const hasExpedia = existsSync(EXPEDIA_DIR);
if (!hasExpedia) console.warn(`skipping the tests that read the Expedia sample: ${EXPEDIA_DIR} does not exist (the real data lives beside the repository, in ../shared/data)`);
