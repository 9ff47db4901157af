/**
 * Which files of a run `compact` merges: pure, so it is tested without a store.
 *
 * Files are taken in manifest order (shard order) and grouped greedily until a group holds at
 * least `targetRows` rows; a file is never split (each old file maps to exactly one new one,
 * which keeps references mappable). A group of one file is left as it is, so compacting a
 * compacted run with the same target changes nothing. Merged files go to the run's `parts/` and
 * `errors/` folders, also when the run is older than them.
 */
import { createHash } from 'node:crypto';
import { RUN_LAYOUT, type ManifestFileEntry, type RunManifest } from '@siglip-batch/jobs';

export interface MergeGroup {
  kind: 'part' | 'errors';
  /** The new file's key, relative to the run folder. */
  key: string;
  sources: ManifestFileEntry[];
  rows: number;
}

export interface CompactionPlan {
  /** Deterministic: the same manifest and target give the same keys (a rerun overwrites them). */
  token: string;
  merges: MergeGroup[];
  parts: ManifestFileEntry[];
  errors: ManifestFileEntry[];
}

export function planCompaction(manifest: Pick<RunManifest, 'parts' | 'errors'>, targetRows: number): CompactionPlan {
  const token = createHash('sha256')
    .update(JSON.stringify([targetRows, manifest.parts.map((p) => p.key), manifest.errors.map((e) => e.key)]))
    .digest('hex')
    .slice(0, 12);
  const merges: MergeGroup[] = [];
  const group = (kind: MergeGroup['kind'], files: ManifestFileEntry[]): ManifestFileEntry[] => {
    const out: ManifestFileEntry[] = [];
    let current: ManifestFileEntry[] = [];
    let rows = 0;
    const close = () => {
      if (current.length === 1) out.push(current[0]!);
      else if (current.length > 1) {
        const key = `${kind === 'part' ? RUN_LAYOUT.partsDir : RUN_LAYOUT.errorsDir}${kind}-c${token}-${String(merges.filter((m) => m.kind === kind).length).padStart(5, '0')}.parquet`;
        merges.push({ kind, key, sources: current, rows });
        out.push({ shard: current[0]!.shard, key, rows });
      }
      current = [];
      rows = 0;
    };
    for (const file of files) {
      if (file.rows === 0) {
        // An empty file holds nothing to merge; it is folded into the group it sits in.
        if (current.length > 0) current.push(file);
        else out.push(file);
        continue;
      }
      current.push(file);
      rows += file.rows;
      if (rows >= targetRows) close();
    }
    close();
    return out;
  };
  const parts = group('part', manifest.parts);
  const errors = group('errors', manifest.errors);
  return { token, merges, parts, errors };
}
