import { createRequire } from 'node:module';
import type * as S3Module from '@aws-sdk/client-s3';
import type * as StorageModule from '@aws-sdk/lib-storage';

const requireSdk = createRequire(import.meta.url);
let s3: typeof S3Module | undefined;
let storage: typeof StorageModule | undefined;

/**
 * The AWS SDK's S3 client, loaded on first use rather than at import, like `Arrow`
 * (lazy-arrow.ts): it is ~0.3 s of start-up, and a run over local directories (`embed --source
 * ./photos --out ./runs`) never touches S3. Both packages are CommonJS without an `exports` map,
 * so this is the same instance an `import … from '@aws-sdk/client-s3'` gets (a test's commands
 * and errors are this module's classes). Types come from `import type`.
 */
export const S3: typeof S3Module = new Proxy({} as typeof S3Module, {
  get: (_target, key) => (s3 ??= requireSdk('@aws-sdk/client-s3') as typeof S3Module)[key as keyof typeof S3Module],
});

/** `@aws-sdk/lib-storage` (multipart uploads), loaded on first use as `S3` is. */
export const Storage: typeof StorageModule = new Proxy({} as typeof StorageModule, {
  get: (_target, key) => (storage ??= requireSdk('@aws-sdk/lib-storage') as typeof StorageModule)[key as keyof typeof StorageModule],
});
