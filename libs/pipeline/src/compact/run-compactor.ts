/**
 * `siglip-batch compact --run <run folder>`: merges a finalised run's small part (and errors)
 * files into large ones and switches the manifest to them, so that readers never see a half
 * state:
 *
 * 1. the merged files are written under new keys (`part-c<token>-<n>.parquet`; the token is
 *    derived from the manifest and the target, so a rerun writes the same keys again);
 * 2. their row counts are checked against the manifest's;
 * 3. the new manifest replaces the old one in one atomic put — readers trust only the manifest
 *    (SPEC §3), so before this put they read the old files, after it the new ones;
 * 4. only then are the old files deleted.
 *
 * A crash before 3 leaves the old run intact (plus unreferenced new files, overwritten by the
 * rerun); a crash during 4 leaves old files no manifest lists, which a rerun deletes (they are
 * all in `compaction.replaced`). A rerun of a finished compaction changes nothing.
 *
 * `compaction.replaced` maps every file the run ever listed to the file holding its rows now,
 * composed over repeated compactions: the processed index keeps the old names (its entries are
 * immutable), and `latest` maps them through it (see run-file-map.ts).
 *
 * Memory: files are streamed row group by row group (libs/io `mergeParquetFiles`) into a
 * multipart upload; nothing holds a whole file, let alone the run.
 */
import { mergeParquetFiles, readParquetMetadata, type RunFolder } from '@siglip-batch/io';
import type { ManifestFileEntry, RunManifest } from '@siglip-batch/jobs';
import { planCompaction } from './compaction-plan';
import { RunNotFinalisedError } from './run-not-finalised-error';

/** Rows per merged file: ~110 MB of 1,152-d float embeddings before compression. */
export const DEFAULT_COMPACT_TARGET_ROWS = 25_000;

/** Points of a compaction where tests inject a crash (a fault that cannot be made for real). */
export type CompactionStep = 'files-written' | 'manifest-written';

export interface CompactOptions {
  folder: RunFolder;
  /** Rows per merged file (files are never split). @defaultValue {@link DEFAULT_COMPACT_TARGET_ROWS} */
  targetRows?: number;
  /** Rows per row group of merged files. @defaultValue 8192 */
  rowGroupSize?: number;
  onProgress?(event: { merged: number; of: number; key: string; rows: number }): void;
  /** Test-only: called after each step; throwing there simulates a crash at that point. */
  afterStep?(step: CompactionStep): void | Promise<void>;
}

export interface CompactResult {
  runId: string;
  /** Files listed before and after (parts + errors). */
  before: { parts: number; errors: number };
  after: { parts: number; errors: number };
  /** Merged files written by this call. */
  written: string[];
  /** Old files deleted by this call (a rerun after a crash deletes what the crash left). */
  deleted: number;
  rows: number;
}

export async function compactRun(options: CompactOptions): Promise<CompactResult> {
  const { folder } = options;
  const targetRows = options.targetRows ?? DEFAULT_COMPACT_TARGET_ROWS;
  if (!Number.isInteger(targetRows) || targetRows < 1) throw new RangeError(`target rows must be a positive integer, got ${targetRows}`);
  const manifest = await folder.readManifest();
  if (!manifest) throw new RunNotFinalisedError(folder.uriOf(''));

  const plan = planCompaction(manifest, targetRows);
  const written: string[] = [];
  for (const [index, merge] of plan.merges.entries()) {
    const sources = merge.sources.map((source) => () => folder.store.openBlob(folder.keyOf(source.key)));
    const bytes = await mergeParquetFiles(sources, options.rowGroupSize ? { rowGroupSize: options.rowGroupSize } : {});
    await folder.store.put(folder.keyOf(merge.key), bytes, { contentType: 'application/vnd.apache.parquet' });
    const rows = (await readParquetMetadata(await folder.store.openBlob(folder.keyOf(merge.key)))).numRows;
    if (rows !== merge.rows) {
      throw new Error(`${folder.uriOf(merge.key)} has ${rows} rows, its ${merge.sources.length} sources ${merge.rows}: the manifest was not changed`);
    }
    written.push(merge.key);
    options.onProgress?.({ merged: index + 1, of: plan.merges.length, key: merge.key, rows });
  }
  await options.afterStep?.('files-written');

  let current: RunManifest = manifest;
  if (plan.merges.length > 0) {
    current = { ...manifest, parts: plan.parts, errors: plan.errors, compaction: composeCompaction(manifest, plan.merges, targetRows) };
    await folder.writeManifest(current);
  }
  await options.afterStep?.('manifest-written');

  // Every file the run ever listed that the current manifest does not: the sources of this
  // compaction, and whatever an earlier one, interrupted, left behind.
  const listed = new Set(listedKeys(current));
  const obsolete = new Set([...listedKeys(manifest), ...(current.compaction?.replaced ?? []).map((entry) => entry.key)].filter((key) => !listed.has(key)));
  let deleted = 0;
  for (const key of obsolete) {
    if (await folder.store.exists(folder.keyOf(key))) {
      await folder.store.delete(folder.keyOf(key));
      deleted++;
    }
  }
  return {
    runId: manifest.runId,
    before: { parts: manifest.parts.length, errors: manifest.errors.length },
    after: { parts: current.parts.length, errors: current.errors.length },
    written,
    deleted,
    rows: current.counts.ok + current.counts.error,
  };
}

function listedKeys(manifest: Pick<RunManifest, 'parts' | 'errors'>): string[] {
  return [...manifest.parts, ...manifest.errors].map((file: ManifestFileEntry) => file.key);
}

/** The old mapping with this compaction's merges applied on top (old → newest file). */
function composeCompaction(manifest: RunManifest, merges: ReturnType<typeof planCompaction>['merges'], targetRows: number): NonNullable<RunManifest['compaction']> {
  const into = new Map<string, string>();
  for (const merge of merges) for (const source of merge.sources) into.set(source.key, merge.key);
  const replaced = new Map<string, string>();
  for (const entry of manifest.compaction?.replaced ?? []) replaced.set(entry.key, into.get(entry.into) ?? entry.into);
  for (const [key, target] of into) replaced.set(key, target);
  return {
    compactedAt: new Date().toISOString(),
    targetRows,
    replaced: [...replaced].map(([key, target]) => ({ key, into: target })),
  };
}
