/**
 * From a URI to a store: S3 client configuration from the standard places, and the store plus
 * key prefix a location names.
 *
 * Credentials are never an option here: the SDK's default chain finds them (env, shared
 * config/credentials files and SSO profiles, web identity, ECS/EC2 metadata), and nothing in
 * this library logs them or puts them in an error message.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { parsePositiveInteger } from './positive-integer';
import type * as Http from 'node:http';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { basename, dirname } from 'node:path';
import { LocalObjectStore } from './local-object-store';
import { parseLocation, type Location } from './location';
import { InvalidUriError } from './invalid-uri-error';
import { S3 } from './lazy-aws-sdk';
import type { ObjectStore } from './object-store';
import { S3ObjectStore } from './s3-object-store';
import { addRequestGate, type S3RequestGate } from './s3-request-gate';

export interface S3Options {
  /** Custom endpoint (MinIO, moto, …), e.g. `http://127.0.0.1:9000`. */
  endpoint?: string;
  /** Region; when unset, the SDK's chain (profile) decides, and `us-east-1` with a custom endpoint. */
  region?: string;
  /**
   * Path-style addressing (`endpoint/bucket/key`).
   * @defaultValue true when the endpoint's host is `localhost` or an IP address, else false
   */
  forcePathStyle?: boolean;
  /**
   * Attempts per request, the first included (SDK retries with backoff).
   * @defaultValue 3 (the SDK's default)
   */
  maxAttempts?: number;
  /** @defaultValue 'standard' */
  retryMode?: 'standard' | 'adaptive';
  /**
   * When to add request checksums. Newer SDKs default to WHEN_SUPPORTED (CRC32 trailers on
   * streamed uploads), which some S3-compatible servers reject.
   * @defaultValue 'WHEN_REQUIRED'
   */
  requestChecksumCalculation?: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
  /** @defaultValue 'WHEN_REQUIRED' */
  responseChecksumValidation?: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
  /**
   * Keep-alive sockets per host: size it to the fetch concurrency (getMany's `concurrency`) plus
   * a few for uploads, or requests queue for a socket.
   * @defaultValue 50
   */
  maxSockets?: number;
  /** @defaultValue 16 MiB (see S3ObjectStoreOptions) */
  multipartThresholdBytes?: number;
  /** @defaultValue 8 MiB */
  partSizeBytes?: number;
  /**
   * Time to establish a connection before the attempt fails (and is retried).
   * @defaultValue 10000
   */
  connectionTimeoutMs?: number;
  /**
   * A socket idle for this long fails the request (and it is retried).
   * @defaultValue 120000
   */
  socketTimeoutMs?: number;
  /**
   * Awaited before every request (each attempt) of the clients made from these options: a
   * rate limiter's token (see s3-request-gate.ts). Never from the environment.
   */
  beforeRequest?: S3RequestGate;
}

const DEFAULT_MAX_SOCKETS = 50;

function positiveInt(name: string, value: string | undefined): number | undefined {
  return value === undefined || value.trim() === '' ? undefined : parsePositiveInteger(name, value);
}

function checksumMode(name: string, value: string | undefined): 'WHEN_SUPPORTED' | 'WHEN_REQUIRED' | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const upper = value.trim().toUpperCase();
  if (upper === 'WHEN_SUPPORTED' || upper === 'WHEN_REQUIRED') return upper;
  throw new RangeError(`${name} must be when_supported or when_required, got ${JSON.stringify(value)}`);
}

/**
 * S3 options from the standard AWS variables: AWS_ENDPOINT_URL_S3 (else AWS_ENDPOINT_URL),
 * AWS_REGION (else AWS_DEFAULT_REGION), AWS_MAX_ATTEMPTS, AWS_RETRY_MODE (`legacy` counts as
 * standard), AWS_REQUEST_CHECKSUM_CALCULATION, AWS_RESPONSE_CHECKSUM_VALIDATION; then
 * `overrides` (command-line flags such as `--s3-endpoint`) win. Throws on malformed values.
 */
export function s3OptionsFromEnv(env: NodeJS.ProcessEnv = process.env, overrides: Partial<S3Options> = {}): S3Options {
  const options: S3Options = {};
  const endpoint = env['AWS_ENDPOINT_URL_S3'] || env['AWS_ENDPOINT_URL'];
  if (endpoint && env['AWS_IGNORE_CONFIGURED_ENDPOINT_URLS'] !== 'true') options.endpoint = endpoint;
  const region = env['AWS_REGION'] || env['AWS_DEFAULT_REGION'];
  if (region) options.region = region;
  const maxAttempts = positiveInt('AWS_MAX_ATTEMPTS', env['AWS_MAX_ATTEMPTS']);
  if (maxAttempts !== undefined) options.maxAttempts = maxAttempts;
  const retryMode = env['AWS_RETRY_MODE']?.trim().toLowerCase();
  if (retryMode) {
    if (retryMode === 'adaptive') options.retryMode = 'adaptive';
    else if (retryMode === 'standard' || retryMode === 'legacy') options.retryMode = 'standard';
    else throw new RangeError(`AWS_RETRY_MODE must be standard, adaptive or legacy, got ${JSON.stringify(env['AWS_RETRY_MODE'])}`);
  }
  const requestChecksum = checksumMode('AWS_REQUEST_CHECKSUM_CALCULATION', env['AWS_REQUEST_CHECKSUM_CALCULATION']);
  if (requestChecksum) options.requestChecksumCalculation = requestChecksum;
  const responseChecksum = checksumMode('AWS_RESPONSE_CHECKSUM_VALIDATION', env['AWS_RESPONSE_CHECKSUM_VALIDATION']);
  if (responseChecksum) options.responseChecksumValidation = responseChecksum;
  for (const [name, value] of Object.entries(overrides) as [keyof S3Options, unknown][]) {
    if (value !== undefined) (options as Record<string, unknown>)[name] = value;
  }
  return options;
}

/** An endpoint on localhost or an IP address cannot serve virtual-hosted buckets. */
export function impliesPathStyle(endpoint: string | undefined): boolean {
  if (!endpoint) return false;
  let host: string;
  try {
    host = new URL(endpoint).hostname;
  } catch {
    throw new RangeError(`invalid S3 endpoint ${JSON.stringify(endpoint)}: expected a URL such as http://127.0.0.1:9000`);
  }
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return bare === 'localhost' || bare.endsWith('.localhost') || isIP(bare) !== 0;
}

// node:http and node:https are required when a client is made, not imported: an ES module import
// of node:http builds its module facade, which loads undici (~50 ms of every start-up, measured
// with --cpu-prof) in processes that read local directories only.
const requireBuiltin = createRequire(import.meta.url);

export function createS3Client(options: S3Options = {}): S3Client {
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? DEFAULT_MAX_SOCKETS };
  const region = options.region ?? (options.endpoint ? 'us-east-1' : undefined);
  const client = new S3.S3Client({
    ...(options.endpoint ? { endpoint: options.endpoint } : { followRegionRedirects: true }),
    ...(region ? { region } : {}),
    forcePathStyle: options.forcePathStyle ?? impliesPathStyle(options.endpoint),
    ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
    retryMode: options.retryMode ?? 'standard',
    requestChecksumCalculation: options.requestChecksumCalculation ?? 'WHEN_REQUIRED',
    responseChecksumValidation: options.responseChecksumValidation ?? 'WHEN_REQUIRED',
    requestHandler: {
      httpAgent: new (requireBuiltin('node:http') as typeof Http).Agent(agentOptions),
      httpsAgent: new (requireBuiltin('node:https') as typeof Https).Agent(agentOptions),
      connectionTimeout: options.connectionTimeoutMs ?? 10_000,
      socketTimeout: options.socketTimeoutMs ?? 120_000,
    },
  });
  if (options.beforeRequest) addRequestGate(client, options.beforeRequest);
  return client;
}

export interface OpenedLocation {
  store: ObjectStore;
  /** '' or ending in '/': keys of the location are `prefix + …`. */
  prefix: string;
  location: Location;
}

function storeFor(location: Location, options: S3Options): ObjectStore {
  if (location.kind === 'file') return new LocalObjectStore(location.root);
  return new S3ObjectStore({
    client: createS3Client(options),
    bucket: location.bucket,
    ownsClient: true,
    ...(options.multipartThresholdBytes !== undefined ? { multipartThresholdBytes: options.multipartThresholdBytes } : {}),
    ...(options.partSizeBytes !== undefined ? { partSizeBytes: options.partSizeBytes } : {}),
  });
}

/**
 * The store and folder prefix of a location used as a folder (a source to list, an output
 * root). S3 prefixes get a trailing '/'; a file location is a store rooted at that directory.
 * Close the store when done (it owns its S3 client).
 */
export function openLocation(uri: string, options: S3Options = s3OptionsFromEnv()): OpenedLocation {
  const location = parseLocation(uri);
  const prefix = location.kind === 's3' && location.prefix !== '' && !location.prefix.endsWith('/') ? `${location.prefix}/` : location.prefix;
  return { store: storeFor(location, options), prefix, location };
}

export interface OpenedObject {
  store: ObjectStore;
  key: string;
  location: Location;
}

/** The store and key of a location naming one object (a manifest file, a Parquet file). */
export function openObject(uri: string, options: S3Options = s3OptionsFromEnv()): OpenedObject {
  const location = parseLocation(uri);
  if (location.kind === 's3') {
    if (location.prefix === '' || location.prefix.endsWith('/')) throw new InvalidUriError(uri, 'this names a folder, not an object');
    return { store: storeFor(location, options), key: location.prefix, location };
  }
  if (location.root === dirname(location.root)) throw new InvalidUriError(uri, 'this names a folder, not a file');
  return { store: new LocalObjectStore(dirname(location.root)), key: basename(location.root), location };
}
