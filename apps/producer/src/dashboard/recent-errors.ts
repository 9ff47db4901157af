import { readParquetBatches, type ObjectInfo } from '@siglip-batch/io';
import type { RunFolder } from '@siglip-batch/run-format';
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
  /**
   * The run's newest errors files as Redis recorded them when their shards finished (keys
   * relative to the run folder, newest first). When there are any they are read and nothing is
   * listed: the listing is the fallback for runs Redis knows nothing recent of.
   */
  recorded?: readonly string[];
}

/**
 * Recent error rows of a run, read through libs/io, newest first: the errors files Redis recorded
 * for the shards that finished last, else the newest `errors/errors-<shard>.parquet` files of its
 * folder (by last modification, as the store lists them, up to `listCap` files). Runs written
 * before the per-kind folders have them at the top of the folder.
 */
export async function readRecentErrors(folder: RunFolder, options: RecentErrorsOptions = {}): Promise<RecentErrors> {
  const keep = options.files ?? 3;
  const maxRows = options.rows ?? 25;
  if (options.recorded && options.recorded.length > 0) {
    const keys = options.recorded.slice(0, keep).map((file) => folder.keyOf(file));
    return { rows: await readRows(folder, keys, maxRows), files: options.recorded.length, truncated: false };
  }
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
  return { rows: await readRows(folder, newest.map((info) => info.key), maxRows), files, truncated };
}

async function readRows(folder: RunFolder, keys: readonly string[], maxRows: number): Promise<ErrorRow[]> {
  const rows: ErrorRow[] = [];
  for (const key of keys) {
    if (rows.length >= maxRows) break;
    const file = key.slice(folder.prefix.length);
    try {
      const blob = await folder.store.openBlob(key);
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
  return rows;
}

function newerFirst(a: ObjectInfo, b: ObjectInfo): number {
  const byTime = (b.lastModified?.getTime() ?? 0) - (a.lastModified?.getTime() ?? 0);
  return byTime !== 0 ? byTime : b.key < a.key ? -1 : b.key > a.key ? 1 : 0;
}
