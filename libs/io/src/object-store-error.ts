import type { ObjectStoreErrorCode } from './object-store';

/**
 * A failed store operation. `transient` says whether trying again later may succeed (throttling,
 * timeouts, 5xx, connection resets after the SDK's own retries): architecture §3, transient is not data.
 *
 * Messages name the key and the cause, never credentials; the SDK's error is not kept as `cause`
 * (its request/response metadata may carry the access key id in the Authorization header).
 */
export class ObjectStoreError extends Error {
  readonly code: ObjectStoreErrorCode;
  readonly transient: boolean;
  /** The key (relative to the store) the operation was about. */
  readonly key: string;
  /** HTTP status of the S3 response, when there was one. */
  readonly statusCode: number | undefined;

  constructor(code: ObjectStoreErrorCode, key: string, message: string, options: { statusCode?: number; transient?: boolean } = {}) {
    super(message);
    this.name = this.constructor.name;
    this.code = code;
    this.key = key;
    this.transient = options.transient ?? code === 'transient';
    this.statusCode = options.statusCode;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

export function isObjectStoreError(error: unknown, code?: ObjectStoreErrorCode): error is ObjectStoreError {
  return error instanceof ObjectStoreError && (code === undefined || error.code === code);
}

/** An AbortSignal fired: propagated as is (name `AbortError`), never turned into a per-object result. */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || (error as { code?: unknown }).code === 'ABORT_ERR');
}
