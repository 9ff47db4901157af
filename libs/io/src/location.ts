/**
 * Where sources and outputs live: an S3 bucket + key prefix, or a local directory.
 *
 * Accepted: `s3://bucket/prefix`, `file:///abs/path` (also `file://localhost/abs/path`) and plain
 * paths (made absolute against the working directory, or `baseDir`). Everything else is refused
 * with an {@link InvalidUriError} that says what is accepted: http(s) (architecture §3: a worker never
 * fetches arbitrary URLs), other schemes (gs://, az://…), file URIs with a host or a relative path.
 *
 * S3 URIs carry keys verbatim (no percent-decoding), the way the AWS CLI, DuckDB and pyarrow
 * spell them; file URIs are percent-encoded per RFC 8089 / WHATWG (`pathToFileURL`).
 *
 * S3 keys have no path semantics: `s3://b/img/sub/../x.png` is the key `img/sub/../x.png`, kept
 * as it is (never normalised to `img/x.png`), because that is the object S3 stores under it.
 * File paths are normalised (`/data/a/../b` is `/data/b`): that is what the kernel opens.
 */
import { dirname, isAbsolute, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { InvalidUriError } from './invalid-uri-error';

export type Location =
  | {
      kind: 's3';
      bucket: string;
      /** Key prefix exactly as written after `bucket/` (may be '' and need not end in '/'). */
      prefix: string;
      /** Canonical form: `s3://bucket/prefix`. */
      uri: string;
    }
  | {
      kind: 'file';
      /** Absolute, normalised path (no trailing '/', except for the filesystem root). */
      root: string;
      /** Always '' for file locations: the path itself is the root. */
      prefix: string;
      /** Canonical form: `file:///abs/path` (percent-encoded). */
      uri: string;
    };

export interface ParseLocationOptions {
  /**
   * Directory that relative plain paths are resolved against.
   * @defaultValue `process.cwd()`
   */
  baseDir?: string;
}

/** Bucket names as S3 accepts them (3–63 chars; legacy names with upper case or '_' are tolerated). */
const BUCKET_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]$/;
const SCHEME_PATTERN = /^([A-Za-z][A-Za-z0-9+.-]*):/;

export function parseLocation(uri: string, options: ParseLocationOptions = {}): Location {
  if (typeof uri !== 'string' || uri.trim() === '') throw new InvalidUriError(String(uri), 'empty URI');
  if (uri.includes('\0')) throw new InvalidUriError(uri, 'contains a NUL character');
  const scheme = SCHEME_PATTERN.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined) return fileLocation(resolve(options.baseDir ?? process.cwd(), uri));
  if (scheme === 's3') return parseS3(uri);
  if (scheme === 'file') return parseFileUri(uri);
  if (scheme === 'http' || scheme === 'https') {
    throw new InvalidUriError(uri, 'http(s) URLs are not read (copy the objects to S3 or a local directory first)');
  }
  throw new InvalidUriError(uri, `the scheme "${scheme}:" is not supported (for a relative path with a colon, write ./${uri})`);
}

function parseS3(uri: string): Location {
  if (!/^s3:\/\//i.test(uri)) throw new InvalidUriError(uri, 'an S3 URI is written s3://bucket/prefix');
  const rest = uri.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const prefix = slash === -1 ? '' : rest.slice(slash + 1);
  if (bucket === '') throw new InvalidUriError(uri, 'the bucket name is missing');
  if (!BUCKET_PATTERN.test(bucket)) throw new InvalidUriError(uri, `"${bucket}" is not a valid bucket name`);
  return { kind: 's3', bucket, prefix, uri: `s3://${bucket}/${prefix}` };
}

function parseFileUri(uri: string): Location {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new InvalidUriError(uri, 'not a valid file URI');
  }
  if (!/^file:\/\//i.test(uri)) {
    throw new InvalidUriError(uri, 'a file URI is written file:///absolute/path (use a plain path for a relative one)');
  }
  if (url.host !== '' && url.host !== 'localhost') {
    throw new InvalidUriError(uri, `file URIs on another host ("${url.host}") are not supported`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw new InvalidUriError(uri, 'a file URI cannot have a query or fragment (percent-encode "?" and "#" in paths)');
  }
  let path: string;
  try {
    path = fileURLToPath(url);
  } catch (error) {
    throw new InvalidUriError(uri, (error as Error).message);
  }
  if (!isAbsolute(path)) throw new InvalidUriError(uri, 'the path of a file URI must be absolute');
  return fileLocation(path);
}

function fileLocation(path: string): Location {
  const root = resolve(path);
  return { kind: 'file', root, prefix: '', uri: pathToFileURL(root).href };
}

/**
 * True when `inner` lies under the folder `outer` (or is it), compared by whole segments:
 * `s3://b/data` holds `s3://b/data/x` but not `s3://b/database/x`. S3 keys are compared as the
 * strings they are (a `..` in a key is two dots, not a step up); file paths are already
 * normalised by {@link parseLocation}. Symlinks are not looked at here (see `realPathOf`).
 */
export function isWithin(inner: Location, outer: Location): boolean {
  if (inner.kind === 's3' && outer.kind === 's3') {
    if (inner.bucket !== outer.bucket) return false;
    const folder = outer.prefix === '' || outer.prefix.endsWith('/') ? outer.prefix : `${outer.prefix}/`;
    return inner.prefix.startsWith(folder) || `${inner.prefix}/` === folder;
  }
  if (inner.kind === 'file' && outer.kind === 'file') {
    return inner.root === outer.root || inner.root.startsWith(outer.root.endsWith(sep) ? outer.root : `${outer.root}${sep}`);
  }
  return false;
}

/** The folder a location names an object in: `s3://b/lists/m.txt` → `s3://b/lists/`, `/data/m.txt` → `/data`. */
export function folderOf(location: Location): Location {
  if (location.kind === 's3') {
    const prefix = location.prefix.slice(0, location.prefix.lastIndexOf('/') + 1);
    return { kind: 's3', bucket: location.bucket, prefix, uri: `s3://${location.bucket}/${prefix}` };
  }
  return fileLocation(dirname(location.root));
}
