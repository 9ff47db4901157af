import { pathToFileURL } from 'node:url';
import { folderOf, inventorySourceBucketOf, isWithin, parseLocation, realPathOf, type Location } from '@siglip-batch/io';
import type { ObjectSourceKind, RunSpec } from '@siglip-batch/jobs';

/** What the shard processor may do with one planned object. */
export type AccessDecision =
  /** Read it at `readUri` (for a local file: its real path, symlinks resolved). */
  | { ok: true; readUri: string }
  /** Do not read it: an error row with this code (`invalid_uri`, `not_allowed`, `not_found`, `access_denied`). */
  | { ok: false; code: string; message: string };

export interface SourceAccessOptions {
  /**
   * Locations (S3 prefixes, directories) under which objects may be read. Local ones are
   * resolved through their symlinks once, here. Empty: nothing may be read.
   */
  roots: string[];
  /** Appended to a `not_allowed` row's message: how the operator widens what may be read. */
  widenHint: string;
}

/** What the access rules need of a run spec. */
export type RunSourceOf = Pick<RunSpec, 'source' | 'sourceKind' | 'retryErrors'>;

/**
 * Where a run's objects come from: its source, or for a retry of a run's errors (whose source
 * is that run's folder) the source those objects were listed from. Reading them is allowed as
 * for a run of that source, never more.
 */
export function objectSourceOf(spec: RunSourceOf): { source: string; sourceKind: ObjectSourceKind } {
  if (spec.sourceKind !== 'errors') return { source: spec.source, sourceKind: spec.sourceKind };
  if (!spec.retryErrors) throw new Error(`the run's source ${spec.source} is a run folder to retry, but the run spec does not say which objects it holds (no retryErrors)`);
  return { source: spec.retryErrors.objectSource, sourceKind: spec.retryErrors.objectSourceKind };
}

/**
 * The folder a run's source names: the S3 prefix or directory it lists, the folder its
 * manifest is in (`s3://b/lists/m.txt` → `s3://b/lists/`), where relative lines resolve, or the
 * source bucket of an S3 Inventory report (`s3://<source-bucket>/`, from where S3 put the
 * report: `…/<source-bucket>/<config-id>/<date>/manifest.json`).
 */
export function sourceScopeOf(spec: RunSourceOf): Location {
  const { source, sourceKind } = objectSourceOf(spec);
  if (sourceKind === 's3-inventory') return parseLocation(`s3://${inventorySourceBucketOf(source)}/`);
  const location = parseLocation(source);
  if (sourceKind === 'manifest-text' || sourceKind === 'manifest-parquet') return folderOf(location);
  if (location.kind === 's3' && location.prefix !== '' && !location.prefix.endsWith('/')) {
    // Listed as a folder (see openLocation): `s3://b/img` holds `img/…`, not `img-old/…`.
    return parseLocation(`${location.uri}/`);
  }
  return location;
}

/**
 * Decides, object by object, what a shard may read: the one place between a plan (written by a
 * producer, from a manifest anyone may have written) and the bytes of a store.
 *
 * - A manifest in S3 names S3 objects only: a file URI or path planned from it is `invalid_uri`.
 * - An object outside every root is `not_allowed`. S3 keys are compared as strings (`..` in a key
 *   is literal); a local path is compared after its symlinks are resolved, and the real path is
 *   what gets read, so a symlink inside an allowed directory cannot lead out of it.
 * - A local file that is not there is `not_found` without being opened (nothing can be made to
 *   appear there between the check and the read).
 */
export class SourceAccess {
  private readonly lexicalRoots: Location[];
  private realRoots: Promise<Location[]> | undefined;
  private readonly remoteManifest: string | undefined;
  private readonly widenHint: string;

  /** Throws an `InvalidUriError` for a root or source that does not parse. */
  constructor(spec: RunSourceOf, options: SourceAccessOptions) {
    this.lexicalRoots = options.roots.map((uri) => parseLocation(uri));
    const objects = objectSourceOf(spec);
    const isManifest = objects.sourceKind === 'manifest-text' || objects.sourceKind === 'manifest-parquet';
    const source = parseLocation(objects.source);
    this.remoteManifest = isManifest && source.kind === 's3' ? source.uri : undefined;
    this.widenHint = options.widenHint;
  }

  /** Local roots through their symlinks (once, on first use): objects are compared real path to real path. */
  private roots(): Promise<Location[]> {
    this.realRoots ??= Promise.all(
      this.lexicalRoots.map(async (root) => (root.kind === 'file' ? parseLocation((await realPathOf(root.root)).path) : root)),
    );
    return this.realRoots;
  }

  /** The roots, for logs and messages. */
  describe(): string {
    return this.lexicalRoots.length === 0 ? '(nothing)' : this.lexicalRoots.map((root) => root.uri).join(', ');
  }

  async check(uri: string): Promise<AccessDecision> {
    let location: Location;
    try {
      location = parseLocation(uri);
    } catch (error) {
      return { ok: false, code: 'invalid_uri', message: (error as Error).message };
    }
    if (this.remoteManifest !== undefined && location.kind !== 's3') {
      return {
        ok: false,
        code: 'invalid_uri',
        message: `${uri}: a manifest in S3 (${this.remoteManifest}) names only s3:// objects; local files are never read from it`,
      };
    }
    const roots = await this.roots();
    if (location.kind === 's3') {
      return roots.some((root) => isWithin(location, root)) ? { ok: true, readUri: location.uri } : this.refused(uri);
    }
    let real: { path: string; exists: boolean };
    try {
      real = await realPathOf(location.root);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') return { ok: false, code: 'access_denied', message: `${uri}: ${(error as Error).message}` };
      // What cannot be resolved cannot be shown to be inside: refused, as data.
      if (code === 'ELOOP' || code === 'ENAMETOOLONG') return this.refused(`${uri} (its symlinks cannot be resolved: ${code})`);
      throw error;
    }
    const realLocation = parseLocation(real.path);
    if (!roots.some((root) => isWithin(realLocation, root))) {
      return this.refused(real.path === location.root ? uri : `${uri} (really ${pathToFileURL(real.path).href})`);
    }
    if (!real.exists) return { ok: false, code: 'not_found', message: `${uri}: no such file` };
    return { ok: true, readUri: realLocation.uri };
  }

  private refused(what: string): AccessDecision {
    return { ok: false, code: 'not_allowed', message: `${what} is outside what may be read here (${this.describe()}); ${this.widenHint}` };
  }
}
