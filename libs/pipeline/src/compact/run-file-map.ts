/**
 * After `compact`, the files a run listed before are gone: references kept elsewhere (the
 * processed index's entries name a run and a file) are mapped through the run's file table
 * (its replaced rows) to the file that holds those rows now. A lookup reads a row group or two
 * of the table (libs/io `openReplacedLookup`): no map of the run is built, whatever its size.
 *
 * The table a lookup reads may be deleted under it (a later `compact` of the run, once its
 * grace has passed, or at once with a grace of 0): a lookup that fails then re-reads the run's
 * manifest and, when it names another table, goes on with that one (see manifest-retry.ts).
 */
import { openReplacedLookup, type RunFolder } from '@siglip-batch/run-format';
import type { RunManifest } from '@siglip-batch/jobs';

export type RunFileMap = (key: string) => Promise<string>;

/** The mapping of a run; a run without a manifest maps every key to itself. */
export async function runFileMap(folder: RunFolder, manifest: RunManifest | undefined): Promise<RunFileMap> {
  if (!manifest) return async (key) => key;
  let current: { table: string | undefined; lookup: RunFileMap };
  try {
    current = { table: manifest.files?.key, lookup: await openReplacedLookup(folder, manifest) };
  } catch (error) {
    const now = await folder.readManifest().catch(() => undefined);
    if (!now?.files || now.files.key === manifest.files?.key) throw error;
    current = { table: now.files.key, lookup: await openReplacedLookup(folder, now) };
  }
  return async (key) => {
    try {
      return await current.lookup(key);
    } catch (error) {
      const now = await folder.readManifest().catch(() => undefined);
      if (!now?.files || now.files.key === current.table) throw error;
      current = { table: now.files.key, lookup: await openReplacedLookup(folder, now) };
      return current.lookup(key);
    }
  };
}
