/**
 * `siglip-batch compact --run <run folder>`: merges a finalised run's small part (and errors)
 * files into large ones and switches the manifest to them, so that readers never see a half
 * state:
 *
 * 1. the merged files are written under new keys (`parts/part-c<token>-<n>.parquet`; the token is
 *    derived from the manifest and the target, so a rerun writes the same keys again);
 * 2. their row counts are checked against the manifest's;
 * 3. the new manifest replaces the old one in one atomic put — readers trust only the manifest
 *    (SPEC §3), so before this put they read the old files, after it the new ones;
 * 4. only then are old files deleted — those that left the manifest more than the grace period
 *    ago (`graceMs`, default 6 h). A reader that read the old manifest just before 3 (`search`
 *    building its cache, `latest`, `retag`) still finds every file it lists; the files replaced
 *    now are deleted by a later `compact` of the run (a rerun is the cleanup) once their grace
 *    has passed. Readers that take longer than the grace re-read the manifest and start over
 *    once (see manifest-retry.ts).
 *
 * A crash before 3 leaves the old run intact (plus unreferenced new files, overwritten by the
 * rerun); a crash during 4 leaves old files no manifest lists, which a rerun deletes (they are
 * all in `compaction.replaced`, with the time they left the manifest). A rerun of a finished
 * compaction changes nothing but deleting the files whose grace has passed.
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

/** How long replaced files are kept for readers that started before the manifest switched. */
export const DEFAULT_COMPACT_GRACE_MS = 6 * 3600 * 1000;

/** Points of a compaction where tests inject a crash (a fault that cannot be made for real). */
export type CompactionStep = 'files-written' | 'manifest-written';

export interface CompactOptions {
  folder: RunFolder;
  /** Rows per merged file (files are never split). @defaultValue {@link DEFAULT_COMPACT_TARGET_ROWS} */
  targetRows?: number;
  /** Rows per row group of merged files. @defaultValue 8192 */
  rowGroupSize?: number;
  /**
   * Replaced files are deleted only this long after they left the manifest (by this call or a
   * later one); 0 deletes them at once. @defaultValue {@link DEFAULT_COMPACT_GRACE_MS}
   */
  graceMs?: number;
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
  /** Old files deleted by this call (their grace had passed, or a crash left them). */
  deleted: number;
  /** Old files still kept for readers (their grace has not passed): a later `compact` deletes them. */
  kept: number;
  /** When the first kept file may be deleted; null when none is kept. */
  keptUntil: string | null;
  rows: number;
}

export async function compactRun(options: CompactOptions): Promise<CompactResult> {
  const { folder } = options;
  const targetRows = options.targetRows ?? DEFAULT_COMPACT_TARGET_ROWS;
  if (!Number.isInteger(targetRows) || targetRows < 1) throw new RangeError(`target rows must be a positive integer, got ${targetRows}`);
  const graceMs = options.graceMs ?? DEFAULT_COMPACT_GRACE_MS;
  if (!Number.isFinite(graceMs) || graceMs < 0) throw new RangeError(`the grace period must be 0 or more milliseconds, got ${graceMs}`);
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
    const now = new Date();
    current = { ...manifest, parts: plan.parts, errors: plan.errors, compaction: composeCompaction(manifest, plan.merges, targetRows, graceMs, now) };
    await folder.writeManifest(current);
  }
  await options.afterStep?.('manifest-written');

  // Every file the run ever listed that the current manifest does not — the sources of this
  // compaction, and earlier ones' — is deleted once its grace has passed.
  const listed = new Set(listedKeys(current));
  const retiredAt = new Map<string, number>();
  for (const entry of current.compaction?.replaced ?? []) {
    if (!listed.has(entry.key)) retiredAt.set(entry.key, Date.parse(entry.retiredAt ?? current.compaction!.compactedAt));
  }
  let deleted = 0;
  let kept = 0;
  let keptUntil = Infinity;
  const now = Date.now();
  for (const [key, at] of retiredAt) {
    if (!(await folder.store.exists(folder.keyOf(key)))) continue;
    if (at + graceMs > now) {
      kept++;
      keptUntil = Math.min(keptUntil, at + graceMs);
      continue;
    }
    await folder.store.delete(folder.keyOf(key));
    deleted++;
  }
  return {
    runId: manifest.runId,
    before: { parts: manifest.parts.length, errors: manifest.errors.length },
    after: { parts: current.parts.length, errors: current.errors.length },
    written,
    deleted,
    kept,
    keptUntil: kept > 0 ? new Date(keptUntil).toISOString() : null,
    rows: current.counts.ok + current.counts.error,
  };
}

function listedKeys(manifest: Pick<RunManifest, 'parts' | 'errors'>): string[] {
  return [...manifest.parts, ...manifest.errors].map((file: ManifestFileEntry) => file.key);
}

/**
 * The old mapping with this compaction's merges applied on top (old → newest file); each entry
 * keeps the time its file left the manifest (this compaction's sources: now).
 */
function composeCompaction(
  manifest: RunManifest,
  merges: ReturnType<typeof planCompaction>['merges'],
  targetRows: number,
  graceMs: number,
  now: Date,
): NonNullable<RunManifest['compaction']> {
  const into = new Map<string, string>();
  for (const merge of merges) for (const source of merge.sources) into.set(source.key, merge.key);
  const replaced = new Map<string, { into: string; retiredAt: string }>();
  for (const entry of manifest.compaction?.replaced ?? []) {
    replaced.set(entry.key, { into: into.get(entry.into) ?? entry.into, retiredAt: entry.retiredAt ?? manifest.compaction!.compactedAt });
  }
  for (const [key, target] of into) replaced.set(key, { into: target, retiredAt: now.toISOString() });
  return {
    compactedAt: now.toISOString(),
    targetRows,
    graceSeconds: Math.ceil(graceMs / 1000),
    replaced: [...replaced].map(([key, entry]) => ({ key, ...entry })),
  };
}
