/**
 * `siglip-batch compact --run <run folder>`: merges a finalised run's small part (and errors)
 * files into large ones and switches the manifest to them, so that readers never see a half
 * state:
 *
 * 1. the merged files are written under new keys (`parts/part-c<token>-<n>.parquet`; the token is
 *    derived from the manifest and the target, so a rerun writes the same keys again);
 * 2. their row counts are checked against the manifest's;
 * 3. the new file table (`_manifest/files-c<token>.parquet`, a new key: the old manifest's table
 *    is never touched) is written, then the new manifest, naming it, replaces the old one in one
 *    atomic put — readers trust only the manifest (architecture §3), so before this put they read the
 *    old files, after it the new ones;
 * 4. only then are old files deleted — those that left the manifest more than the grace period
 *    ago (`graceMs`, default 6 h). A reader that read the old manifest just before 3 (`search`
 *    building its cache, `latest`, `retag`) still finds every file it lists; the files replaced
 *    now are deleted by a later `compact` of the run (a rerun is the cleanup) once their grace
 *    has passed. Readers that take longer than the grace re-read the manifest and start over
 *    once (see manifest-retry.ts).
 *
 * A crash before 3 leaves the old run intact (plus unreferenced new files, overwritten by the
 * rerun); a crash during 4 leaves old files no manifest lists, which a rerun deletes (they are
 * all in the table's replaced rows, with the time they left the manifest). A rerun of a
 * finished compaction changes nothing but deleting the files whose grace has passed. Earlier
 * file tables are deleted the same way (`compaction.retiredTables`).
 *
 * The table's `replaced-part`/`replaced-errors` rows map every file the run ever listed to the
 * file holding its rows now, composed over repeated compactions: the processed index keeps the
 * old names (its entries are immutable), and `latest` maps them through it (run-file-map.ts).
 *
 * Memory: files are streamed row group by row group (libs/run-format `mergeShardFiles`) into a
 * multipart upload, and the run's file table is walked as a stream (a few passes: token,
 * merges, new table, cleanup; see compaction-table.ts): nothing holds a whole file, nor the
 * run's list of files.
 */
import { readParquetMetadata } from '@siglip-batch/io';
import { mergeShardFiles, runFileCounts, runFiles, writeRunFilesTable, type RunFolder } from '@siglip-batch/run-format';
import { RUN_FILES_DIR, type RunManifest } from '@siglip-batch/jobs';
import { compactionToken, groupFiles } from './compaction-plan';
import { compactionTableRows } from './compaction-table';
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
  onProgress?(event: { merged: number; key: string; rows: number }): void;
  /** Test-only: called after each step; throwing there simulates a crash at that point. */
  afterStep?(step: CompactionStep): void | Promise<void>;
}

export interface CompactResult {
  runId: string;
  /** Files listed before and after (parts + errors). */
  before: { parts: number; errors: number };
  after: { parts: number; errors: number };
  /** Merged files written by this call. */
  written: number;
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

  const token = await compactionToken(runFiles(folder, manifest, { kind: ['part', 'errors'] }), targetRows);
  let written = 0;
  for (const kind of ['part', 'errors'] as const) {
    for await (const { merge } of groupFiles(runFiles(folder, manifest, { kind }), kind, token, targetRows)) {
      if (!merge) continue;
      const sources = merge.sources.map((source) => () => folder.store.openBlob(folder.keyOf(source.key)));
      const bytes = await mergeShardFiles(sources, options.rowGroupSize ? { rowGroupSize: options.rowGroupSize } : {});
      await folder.store.put(folder.keyOf(merge.key), bytes, { contentType: 'application/vnd.apache.parquet' });
      const rows = (await readParquetMetadata(await folder.store.openBlob(folder.keyOf(merge.key)))).numRows;
      if (rows !== merge.rows) {
        throw new Error(`${folder.uriOf(merge.key)} has ${rows} rows, its ${merge.sources.length} sources ${merge.rows}: the manifest was not changed`);
      }
      written++;
      options.onProgress?.({ merged: written, key: merge.key, rows });
    }
  }
  await options.afterStep?.('files-written');

  let current: RunManifest = manifest;
  if (written > 0) current = await switchManifest(folder, manifest, token, targetRows, graceMs);
  await options.afterStep?.('manifest-written');

  // Every file the run ever listed that the current manifest does not — the sources of this
  // compaction, and earlier ones' — is deleted once its grace has passed; so are the file
  // tables of earlier manifests (not counted: they hold no rows).
  const retired = (async function* () {
    for await (const row of runFiles(folder, current, { kind: ['replaced-part', 'replaced-errors'] })) {
      yield { key: row.key, at: Date.parse(row.retiredAt ?? current.compaction!.compactedAt), table: false };
    }
    for (const table of current.compaction?.retiredTables ?? []) yield { key: table.key, at: Date.parse(table.retiredAt), table: true };
  })();
  let deleted = 0;
  let kept = 0;
  let keptUntil = Infinity;
  const now = Date.now();
  for await (const { key, at, table } of retired) {
    if (!(await folder.store.exists(folder.keyOf(key)))) continue;
    if (at + graceMs > now) {
      if (!table) kept++;
      keptUntil = Math.min(keptUntil, at + graceMs);
      continue;
    }
    await folder.store.delete(folder.keyOf(key));
    if (!table) deleted++;
  }
  const before = runFileCounts(manifest);
  const after = runFileCounts(current);
  return {
    runId: manifest.runId,
    before: { parts: before.parts, errors: before.errors },
    after: { parts: after.parts, errors: after.errors },
    written,
    deleted,
    kept,
    keptUntil: keptUntil < Infinity ? new Date(keptUntil).toISOString() : null,
    rows: current.counts.ok + current.counts.error,
  };
}

/**
 * Writes the compacted file table under a key of its own, then the manifest naming it (the
 * commit point). The table the old manifest named is kept for its readers until the grace has
 * passed (`retiredTables`, deleted by the cleanup like replaced files; entries whose table is
 * gone leave the list).
 */
async function switchManifest(folder: RunFolder, manifest: RunManifest, token: string, targetRows: number, graceMs: number): Promise<RunManifest> {
  const compactedAt = new Date();
  const key = `${RUN_FILES_DIR}files-c${token}.parquet`;
  const table = await writeRunFilesTable(
    folder.store,
    folder.keyOf(key),
    compactionTableRows({
      folder,
      manifest,
      token,
      targetRows,
      retiredAt: compactedAt.toISOString(),
      bytesOf: async (file) => (await folder.store.openBlob(folder.keyOf(file))).size,
    }),
    { metadata: { 'siglip_batch.run_id': manifest.runId } },
  );
  // Tables an earlier cleanup deleted leave the list.
  const stillKept: Array<{ key: string; retiredAt: string }> = [];
  for (const entry of manifest.compaction?.retiredTables ?? []) if (await folder.store.exists(folder.keyOf(entry.key))) stillKept.push(entry);
  const retiredTables = [...stillKept, ...(manifest.files ? [{ key: manifest.files.key, retiredAt: compactedAt.toISOString() }] : [])];
  const { parts: _parts, errors: _errors, deletions: _deletions, compaction: _compaction, ...kept } = manifest;
  const next: RunManifest = {
    ...kept,
    schemaVersion: 2,
    files: {
      key,
      rows: table.rows,
      bytes: table.bytes,
      parts: table.byKind.part,
      errors: table.byKind.errors,
      deletions: table.byKind.deletions,
      replaced: table.byKind['replaced-part'] + table.byKind['replaced-errors'],
    },
    compaction: {
      compactedAt: compactedAt.toISOString(),
      targetRows,
      graceSeconds: Math.ceil(graceMs / 1000),
      ...(retiredTables.length > 0 ? { retiredTables } : {}),
    },
  };
  await folder.writeManifest(next);
  return next;
}
