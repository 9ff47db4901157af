import { parseLocation, type Location } from '@siglip-batch/io';
import type { RunSpec } from '@siglip-batch/jobs';
import { sourceScopeOf, type SourceAccessOptions } from '@siglip-batch/pipeline';

/**
 * What a worker may read. Its own configuration decides; a run spec (which anyone who can write
 * to Redis can forge) may only narrow that, never widen it.
 *
 * - With `--allow s3://bucket/prefix,file:///data`: objects under these locations, for every
 *   run, whatever its source says. This is how an operator lets a manifest name objects outside
 *   the folder the manifest is in, or lets a worker read local files at all.
 * - Without `--allow`: for each run, objects under that run's source folder (the S3 prefix it
 *   lists, or the folder its manifest is in), and only in S3. What a forged run spec can reach
 *   is then what the worker's S3 credentials reach, never the worker's own disk: a local
 *   source needs `--allow`. Fleets whose credentials reach more than their runs should read
 *   set `--allow` too.
 *
 * Local paths are compared after their symlinks are resolved (libs/pipeline `source-access.ts`).
 */
export class AllowList {
  /** The `--allow` locations; empty means "the run's own S3 source". */
  readonly locations: Location[];

  /** Throws one error naming every `--allow` entry that is not a location. */
  constructor(uris: string[]) {
    const problems: string[] = [];
    this.locations = [];
    for (const uri of uris) {
      try {
        this.locations.push(parseLocation(uri));
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
    if (problems.length > 0) throw new Error(problems.join('; '));
  }

  get empty(): boolean {
    return this.locations.length === 0;
  }

  /** What a shard of this run may read on this worker. */
  accessFor(spec: Pick<RunSpec, 'source' | 'sourceKind' | 'retryErrors'>): SourceAccessOptions {
    if (!this.empty) {
      return { roots: this.locations.map((location) => location.uri), widenHint: 'to read it, start the workers with an --allow that covers it' };
    }
    const scope = sourceScopeOf(spec);
    return {
      roots: scope.kind === 's3' ? [scope.uri] : [],
      widenHint:
        "without --allow a worker reads only the run's own S3 source (for a manifest: the folder it is in) and never local files; " +
        'to read it, start the workers with --allow naming its location (comma-separated, e.g. --allow s3://bucket/images/,file:///data/images)',
    };
  }

  describe(): string {
    return this.empty ? "(each run's own S3 source; no local files)" : this.locations.map((location) => location.uri).join(', ');
  }
}
