/**
 * S3 SDK errors → ObjectStoreError, after the SDK's own retries:
 * - 404 / NoSuchKey / NotFound / NoSuchBucket → `not_found`;
 * - 403 AccessDenied (also InvalidObjectState: archived objects) → `access_denied`, permanent;
 * - credential failures (expired token, unknown key id, bad signature) → `access_denied` but
 *   transient: they say nothing about the object and must not become error rows;
 * - throttling (429, 503 SlowDown), other 5xx, 408/RequestTimeout, timeouts, connection
 *   resets/refusals → `transient`;
 * - anything unrecognised → `transient` too: a fault we cannot place is not data (architecture §3),
 *   it fails the shard, visibly, instead of writing rows.
 *
 * Messages keep the error name, HTTP status and SDK message, with anything that looks like a
 * credential redacted; the SDK error itself is dropped (its metadata can carry headers).
 */
import { ObjectStoreError } from './object-store-error';
import { missingCredentialsMessage, missingRegionMessage } from './s3-config-messages';
import { redactSecrets } from './secret-redaction';

const NOT_FOUND = new Set(['NoSuchKey', 'NotFound', 'NoSuchBucket', 'NoSuchUpload']);
const ACCESS_DENIED = new Set(['AccessDenied', 'AllAccessDisabled', 'InvalidObjectState', 'AccountProblem']);
const CREDENTIALS = new Set([
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidAccessKeyId',
  'InvalidToken',
  'SignatureDoesNotMatch',
  'TokenRefreshRequired',
  'CredentialsProviderError',
  'RequestTimeTooSkewed',
]);
const NETWORK = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EPROTO',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);

interface SdkErrorLike {
  name?: string;
  code?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

export interface S3ErrorClass {
  code: 'not_found' | 'access_denied' | 'transient';
  transient: boolean;
  statusCode: number | undefined;
  name: string;
}

export function classifyS3Error(error: unknown): S3ErrorClass {
  const e = (error ?? {}) as SdkErrorLike;
  const name = e.Code ?? e.name ?? 'Error';
  const statusCode = e.$metadata?.httpStatusCode;
  const code = e.code;
  if (NOT_FOUND.has(name) || statusCode === 404) return { code: 'not_found', transient: false, statusCode, name };
  if (CREDENTIALS.has(name)) return { code: 'access_denied', transient: true, statusCode, name };
  if (ACCESS_DENIED.has(name) || statusCode === 403) return { code: 'access_denied', transient: false, statusCode, name };
  if (code && NETWORK.has(code)) return { code: 'transient', transient: true, statusCode, name };
  return { code: 'transient', transient: true, statusCode, name };
}

export function s3StoreError(error: unknown, key: string, what: string): ObjectStoreError {
  const { code, transient, statusCode, name } = classifyS3Error(error);
  const status = statusCode ? ` (HTTP ${statusCode})` : '';
  const message = (error as SdkErrorLike | undefined)?.message || 'no message';
  // The SDK's own words for these say neither what it looked at nor what to set.
  if (name === 'CredentialsProviderError') {
    return new ObjectStoreError(code, key, redactSecrets(`${what} failed: ${missingCredentialsMessage(process.env, message)}`), { statusCode, transient });
  }
  if (/^Region is missing/i.test(message)) {
    return new ObjectStoreError(code, key, `${what} failed: ${missingRegionMessage()}`, { statusCode, transient });
  }
  return new ObjectStoreError(code, key, redactSecrets(`${what} failed: ${name}${status}: ${message}`), { statusCode, transient });
}
