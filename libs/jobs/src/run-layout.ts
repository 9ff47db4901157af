/**
 * The layout of a run folder `<output>/<run>/` (architecture §3). All keys are relative to the
 * output location's prefix; `runFolder(prefix, run)` gives the folder's own prefix.
 */
import { assertRunId } from './run-id';
import { padShard } from './shard-key';

export const RUN_LAYOUT = {
  runSpec: '_run.json',
  listing: '_plan/_listing.json',
  planDir: '_plan/',
  statsDir: '_stats/',
  manifest: '_manifest.json',
  labels: 'labels.parquet',
  /**
   * Each kind of Parquet file has a folder of its own, so that a folder holds one schema and
   * `pyarrow.dataset('<run>/parts')` or a Hugging Face `data_dir` read the part files alone.
   * Runs written before this layout keep their files at the top of the run folder: readers go
   * through the keys the manifest lists, never through these folders.
   */
  partsDir: 'parts/',
  errorsDir: 'errors/',
  deletionsDir: 'deletions/',
} as const;

/** Prefix of a run's folder below an output prefix (`''` or ending in `/`). */
export function runFolder(outputPrefix: string, runId: string): string {
  if (outputPrefix !== '' && !outputPrefix.endsWith('/')) outputPrefix += '/';
  return `${outputPrefix}${assertRunId(runId)}/`;
}

export function planKey(shard: number): string {
  return `${RUN_LAYOUT.planDir}${padShard(shard)}.json`;
}

export function partKey(shard: number): string {
  return `${RUN_LAYOUT.partsDir}part-${padShard(shard)}.parquet`;
}

export function errorsKey(shard: number): string {
  return `${RUN_LAYOUT.errorsDir}errors-${padShard(shard)}.parquet`;
}

export function statsKey(shard: number): string {
  return `${RUN_LAYOUT.statsDir}${padShard(shard)}.json`;
}

/** Shard number of a plan or stats key (`_plan/00000012.json` → 12), else undefined. */
export function shardOfKey(key: string): number | undefined {
  const match = /(?:^|\/)_(?:plan|stats)\/(\d{8})\.json$/.exec(key);
  return match ? Number(match[1]) : undefined;
}
