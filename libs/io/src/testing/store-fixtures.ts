/**
 * Per-test stores for the io and run-format specs (`@siglip-batch/io/testing`), over the harness
 * of test/support: an S3 store on this test's own moto bucket, or a local store on a fresh temp
 * directory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi, type TestAPI } from 'vitest';
import { describe, expect, freePort, TEST_AWS_ENV, test, type HarnessFixtures } from '@siglip-batch/testing';
import { LocalObjectStore } from '../local-object-store';
import type { ObjectStore } from '../object-store';
import { createS3Client } from '../open-store';
import { S3ObjectStore } from '../s3-object-store';

/** Smallest part size S3 accepts: multipart tests stay small. */
export const TEST_PART_SIZE = 5 * 1024 * 1024;

/** Credentials reach the stores only through the default chain: here, the environment. */
export function useTestCredentials(): void {
  for (const [name, value] of Object.entries(TEST_AWS_ENV)) vi.stubEnv(name, value);
}

export { describe, expect, freePort, test, TEST_AWS_ENV, type HarnessFixtures };

export interface StoreFixtures {
  store: ObjectStore;
}

export const s3StoreTest = test.extend<StoreFixtures & { s3Store: S3ObjectStore }>({
  s3Store: async ({ s3Endpoint, bucket }, use) => {
    useTestCredentials();
    const store = new S3ObjectStore({
      client: createS3Client({ endpoint: s3Endpoint, maxSockets: 32, maxAttempts: 2 }),
      bucket,
      ownsClient: true,
      multipartThresholdBytes: TEST_PART_SIZE,
      partSizeBytes: TEST_PART_SIZE,
    });
    await use(store);
    store.close();
  },
  store: async ({ s3Store }, use) => {
    await use(s3Store);
  },
});

export const localStoreTest = test.extend<StoreFixtures & { localStore: LocalObjectStore; root: string }>({
  // eslint-disable-next-line no-empty-pattern
  root: async ({}, use) => {
    const root = await mkdtemp(join(tmpdir(), 'siglip-io-'));
    await use(root);
    await rm(root, { recursive: true, force: true });
  },
  localStore: async ({ root }, use) => {
    await use(new LocalObjectStore(join(root, 'store')));
  },
  store: async ({ localStore }, use) => {
    await use(localStore);
  },
});

/** The behaviour suites' view of both store fixtures (the extra fixtures of each are not used there). */
export type StoreTest = TestAPI<HarnessFixtures & StoreFixtures>;
export const STORE_KINDS: readonly (readonly ['s3' | 'file', StoreTest])[] = [
  ['s3', s3StoreTest as unknown as StoreTest],
  ['file', localStoreTest as unknown as StoreTest],
];

/** Runs `task` over `items` with at most `concurrency` at a time (bounded-concurrency.ts). */
export { forEachBounded } from '../bounded-concurrency';

/** Deterministic pseudo-random bytes (so a mismatch shows where, not just that). */
export function patternBytes(length: number, seed = 1): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}
