/**
 * The files a run's manifest lists, for e2e checks: through the file table the manifest names
 * (downloaded whole: test runs are small), or the inline lists of a schema 1 manifest, with
 * the same checks as libs/io `runFiles` (the table's size and rows are the manifest's).
 */
import { readParquetMetadata } from '@siglip-batch/io';
import { readRunFilesTable, type RunFileRow } from '@siglip-batch/run-format';
import type { RunManifest } from '@siglip-batch/jobs';

export interface ListedFile {
  shard: number;
  key: string;
  rows: number;
}

export interface ManifestFiles {
  parts: ListedFile[];
  errors: ListedFile[];
  deletions: Array<{ key: string; rows: number }>;
  /** Files `compact` replaced: key → the file holding their rows now, and when they left the manifest. */
  replaced: Array<{ key: string; into: string; retiredAt: string }>;
}

/** `read(key)`: the bytes of a key relative to the run folder. */
export async function manifestFiles(manifest: RunManifest, read: (key: string) => Promise<Uint8Array>): Promise<ManifestFiles> {
  if (!manifest.files) {
    return {
      parts: manifest.parts ?? [],
      errors: manifest.errors ?? [],
      deletions: manifest.deletions ?? [],
      replaced: (manifest.compaction?.replaced ?? []).map((entry) => ({ key: entry.key, into: entry.into, retiredAt: entry.retiredAt ?? manifest.compaction!.compactedAt })),
    };
  }
  const bytes = await read(manifest.files.key);
  if (bytes.byteLength !== manifest.files.bytes) throw new Error(`${manifest.files.key}: ${bytes.byteLength} bytes, the manifest says ${manifest.files.bytes}`);
  if ((await readParquetMetadata(bytes)).numRows !== manifest.files.rows) throw new Error(`${manifest.files.key}: not the rows the manifest says`);
  const out: ManifestFiles = { parts: [], errors: [], deletions: [], replaced: [] };
  const listed = (row: RunFileRow) => ({ shard: row.shard!, key: row.key, rows: row.rows });
  for await (const row of readRunFilesTable(bytes)) {
    if (row.kind === 'part') out.parts.push(listed(row));
    else if (row.kind === 'errors') out.errors.push(listed(row));
    else if (row.kind === 'deletions') out.deletions.push({ key: row.key, rows: row.rows });
    else out.replaced.push({ key: row.key, into: row.into!, retiredAt: row.retiredAt! });
  }
  return out;
}
