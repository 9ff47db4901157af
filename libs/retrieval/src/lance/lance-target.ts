/**
 * Where a run's LanceDB table lives: a local directory or an S3 prefix, the LanceDB database
 * (one table, {@link LANCE_TABLE}) plus `_index.json` beside it, which says what the table holds
 * and how it is indexed (see lance-info.ts).
 *
 * The default is `<run folder>/_lancedb/`: like `_plan/` and `_stats/` it is a folder readers of
 * the run never list (they read the files the manifest lists, and the part files' names do not
 * match it). LanceDB reaches S3 through its own client (Rust `object_store`), so the endpoint,
 * region and credentials the SDK's chain resolves here are handed to it as storage options.
 */
import { createS3Client, openLocation, parseLocation, type ObjectStore, type S3Options } from '@siglip-batch/io';
import { type RunFolder } from '@siglip-batch/run-format';

const LANCE_DIR = '_lancedb/';
export const LANCE_TABLE = 'embeddings';
const LANCE_INFO = '_index.json';

export interface LanceTarget {
  /** The database URI LanceDB connects to (a path, or `s3://bucket/prefix`). */
  uri: string;
  /** What the user named, for messages. */
  display: string;
  storageOptions: Record<string, string>;
  /** Store and key of `_index.json`. */
  store: ObjectStore;
  infoKey: string;
  close(): void;
}

/** The default table location of a run: `<run folder>/_lancedb/`. */
export function defaultLanceUri(folder: RunFolder): string {
  return folder.uriOf(LANCE_DIR);
}

export async function openLanceTarget(uri: string, s3: S3Options = {}): Promise<LanceTarget> {
  const location = parseLocation(uri);
  const { store, prefix } = openLocation(uri.endsWith('/') ? uri : `${uri}/`, s3);
  const infoKey = `${prefix}${LANCE_INFO}`;
  if (location.kind !== 's3') {
    return { uri: location.root, display: uri, storageOptions: {}, store, infoKey, close: () => store.close() };
  }
  const storageOptions = await lanceS3Options(s3);
  const path = location.prefix.replace(/\/+$/, '');
  return {
    uri: `s3://${location.bucket}${path ? `/${path}` : ''}`,
    display: uri,
    storageOptions,
    store,
    infoKey,
    close: () => store.close(),
  };
}

/**
 * LanceDB's S3 storage options from the same configuration the rest of the program uses:
 * endpoint, region and addressing from `S3Options`, credentials from the AWS SDK's default
 * chain (environment, profiles, SSO, instance roles), resolved once here. Temporary credentials
 * are not refreshed during a build.
 */
async function lanceS3Options(s3: S3Options): Promise<Record<string, string>> {
  const client = createS3Client(s3);
  try {
    const options: Record<string, string> = {};
    const region = await client.config.region();
    if (region) options['aws_region'] = region;
    if (s3.endpoint) {
      options['aws_endpoint'] = s3.endpoint;
      if (s3.endpoint.startsWith('http://')) options['allow_http'] = 'true';
    }
    // The same addressing as the program's own client (path-style for localhost and IPs).
    options['aws_virtual_hosted_style_request'] = client.config.forcePathStyle ? 'false' : 'true';
    const credentials = await client.config.credentials();
    options['aws_access_key_id'] = credentials.accessKeyId;
    options['aws_secret_access_key'] = credentials.secretAccessKey;
    if (credentials.sessionToken) options['aws_session_token'] = credentials.sessionToken;
    return options;
  } finally {
    client.destroy();
  }
}

