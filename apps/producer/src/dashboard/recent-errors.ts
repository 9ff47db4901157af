import { readParquetBatches, type ObjectInfo, type RunFolder } from '@siglip-batch/io';
import { RUN_LAYOUT } from '@siglip-batch/jobs';

export interface ErrorRow {
  uri: string;
  errorCode: string;
  error: string;
  /** The errors file the row is from, relative to the run folder. */
  file: string;
}

export interface RecentErrors {
  rows: ErrorRow[];
  /** Errors files found (up to the listing cap). */
  files: number;
  /** True when the listing stopped at the cap: the newest files may be among those not seen. */
  truncated: boolean;
}

export interface RecentErrorsOptions {
  /** Newest errors files read. @defaultValue 3 */
  files?: number;
  /** Rows shown. @defaultValue 25 */
  rows?: number;
  /** Errors files listed at most, so that a page of a huge run stays fast. @defaultValue 20000 */
  listCap?: number;
}

/**
 * Recent error rows of a run: the newest `errors/errors-<shard>.parquet` files of its folder (by
 * last modification, as the store lists them), read through libs/io, newest first. Runs written
 * before the per-kind folders have them at the top of the folder.
 */
export async function readRecentErrors(folder: RunFolder, options: RecentErrorsOptions = {}): Promise<RecentErrors> {
  const keep = options.files ?? 3;
  const maxRows = options.rows ?? 25;
  const listCap = options.listCap ?? 20_000;
  const newest: ObjectInfo[] = [];
  let files = 0;
  let truncated = false;
  for (const prefix of [folder.keyOf(`${RUN_LAYOUT.errorsDir}errors-`), folder.keyOf('errors-')]) {
    for await (const info of folder.store.list(prefix)) {
      if (!info.key.endsWith('.parquet')) continue;
      if (++files > listCap) {
        truncated = true;
        files = listCap;
        break;
      }
      newest.push(info);
      newest.sort(newerFirst);
      if (newest.length > keep) newest.pop();
    }
    if (truncated) break;
  }
  const rows: ErrorRow[] = [];
  for (const info of newest) {
    if (rows.length >= maxRows) break;
    const file = info.key.slice(folder.prefix.length);
    try {
      const blob = await folder.store.openBlob(info.key);
      for await (const batch of readParquetBatches(blob, { columns: ['uri', 'error_code', 'error'], batchSize: maxRows })) {
        const uri = batch.getChild('uri');
        const code = batch.getChild('error_code');
        const error = batch.getChild('error');
        for (let i = 0; i < batch.numRows && rows.length < maxRows; i++) {
          rows.push({ uri: String(uri?.get(i) ?? ''), errorCode: String(code?.get(i) ?? ''), error: String(error?.get(i) ?? ''), file });
        }
        if (rows.length >= maxRows) break;
      }
    } catch {
      // Replaced or removed by a retry while we read it: the next refresh shows the new one.
      continue;
    }
  }
  return { rows, files, truncated };
}

function newerFirst(a: ObjectInfo, b: ObjectInfo): number {
  const byTime = (b.lastModified?.getTime() ?? 0) - (a.lastModified?.getTime() ?? 0);
  return byTime !== 0 ? byTime : b.key < a.key ? -1 : b.key > a.key ? 1 : 0;
}
