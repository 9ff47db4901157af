/**
 * A hook awaited before every request an S3 client sends: where a rate limiter (a fleet-wide
 * budget of requests per second, `S3RateLimiter` in s3-rate-limiter.ts) takes its token. The
 * gate knows nothing of what is behind it.
 *
 * It is an SDK middleware placed right after the retry middleware, so it runs once per attempt
 * (a retried request takes another token: S3 counts it as another request) and before signing
 * (a long wait cannot age a signature). Every command of the client goes through it: GET, HEAD,
 * ranged GETs of Parquet readers, listings, PUT, and each call of a multipart upload.
 */
import type { S3Client } from '@aws-sdk/client-s3';

export interface S3RequestInfo {
  /** The SDK command, e.g. `GetObjectCommand`, `UploadPartCommand`. */
  operation: string;
  bucket?: string;
}

/**
 * Resolves when the request may be sent. A rejection fails the attempt with that error (the
 * store reports it like any other failed request: a transient fault).
 */
export type S3RequestGate = (request: S3RequestInfo) => Promise<void>;

const GATE_MIDDLEWARE = 'siglipBatchRequestGate';

type Next = (args: { input: unknown }) => Promise<unknown>;
type RelativeMiddleware = Parameters<S3Client['middlewareStack']['addRelativeTo']>[0];

export function addRequestGate(client: S3Client, gate: S3RequestGate): void {
  const middleware = (next: Next, context: { commandName?: string }) => async (args: { input: unknown }) => {
    const input = args.input as { Bucket?: unknown };
    await gate({
      operation: context.commandName ?? 'unknown',
      ...(typeof input.Bucket === 'string' ? { bucket: input.Bucket } : {}),
    });
    return next(args);
  };
  // The SDK's middleware types are not a dependency of ours; the shape above is what it calls.
  client.middlewareStack.addRelativeTo(middleware as unknown as RelativeMiddleware, {
    relation: 'after',
    toMiddleware: 'retryMiddleware',
    name: GATE_MIDDLEWARE,
    override: true,
  });
}
