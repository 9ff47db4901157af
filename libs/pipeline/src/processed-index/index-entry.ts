/**
 * The per-output index of what has been processed (issue 8, nightly runs): one entry per
 * (uri, model hash) — the latest run that processed that object with that model, the ETag it
 * saw, and the file of the run that holds its row. Sorted by uri (UTF-8 byte order, the order
 * of S3 and local listings), then model hash, so that a listing merges against it in one pass.
 */
import { compareKeys } from '@siglip-batch/io';
import type { DecodeSpec } from '@siglip-batch/jobs';

export interface IndexEntry {
  uri: string;
  etag: string | null;
  /** The {@link indexModelKey}: the model hash, plus the decode mode when it was fast. */
  modelHash: string;
  run: string;
  /** Part, errors or deletions file of the run, relative to the run folder. */
  file: string;
  /** `deleted`: a tombstone — the run's listing no longer had the object. */
  status: 'ok' | 'error' | 'deleted';
  /** When the run was finalised (ISO 8601): the later entry wins. */
  finalizedAt: string;
}

/**
 * The model an index entry is matched on: the model's hash for an exact-decode run (and for
 * entries written before runs had a decode mode), `<hash>+fast-<gap>` for a `--decode fast`
 * run. Fast-decoded embeddings differ from exact ones, so an object one mode processed is not
 * done for the other (an incremental run plans it again), and `latest` keeps them apart.
 */
export function indexModelKey(modelHash: string, decode: DecodeSpec | undefined): string {
  return decode?.mode === 'fast' ? `${modelHash}+fast-${decode.reducingGap}` : modelHash;
}

/** The model hash and decode mode of an {@link indexModelKey}. */
export function splitModelKey(key: string): { modelHash: string; decode: DecodeSpec } {
  const at = key.indexOf('+fast-');
  return at < 0 ? { modelHash: key, decode: { mode: 'exact' } } : { modelHash: key.slice(0, at), decode: { mode: 'fast', reducingGap: Number(key.slice(at + '+fast-'.length)) } };
}

export function compareEntries(a: Pick<IndexEntry, 'uri' | 'modelHash'>, b: Pick<IndexEntry, 'uri' | 'modelHash'>): number {
  return compareKeys(a.uri, b.uri) || (a.modelHash < b.modelHash ? -1 : a.modelHash > b.modelHash ? 1 : 0);
}

/** Of two entries for the same (uri, model), the one to keep. */
export function newer(a: IndexEntry, b: IndexEntry): IndexEntry {
  return b.finalizedAt > a.finalizedAt || (b.finalizedAt === a.finalizedAt && b.run > a.run) ? b : a;
}

/**
 * K-way merge of sorted entry streams into one sorted stream with one entry per (uri, model),
 * the newest. Throws when an input is out of order (a merge would silently be wrong).
 */
export async function* mergeEntries(inputs: Array<AsyncIterable<IndexEntry>>): AsyncGenerator<IndexEntry> {
  const iterators = inputs.map((input) => input[Symbol.asyncIterator]());
  const heads: Array<IndexEntry | undefined> = await Promise.all(iterators.map(async (it) => (await it.next()).value as IndexEntry | undefined));
  const advance = async (i: number): Promise<void> => {
    const previous = heads[i]!;
    const next = await iterators[i]!.next();
    const value = next.done ? undefined : next.value;
    if (value && compareEntries(previous, value) > 0) throw new Error(`index input ${i} is not sorted: ${value.uri} after ${previous.uri}`);
    heads[i] = value;
  };
  try {
    for (;;) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        if (heads[i] && (best === -1 || compareEntries(heads[i]!, heads[best]!) < 0)) best = i;
      }
      if (best === -1) return;
      let winner = heads[best]!;
      // Every input holding the same key contributes; the newest entry wins.
      for (let i = 0; i < heads.length; i++) {
        while (heads[i] && compareEntries(heads[i]!, winner) === 0) {
          winner = newer(winner, heads[i]!);
          await advance(i);
        }
      }
      yield winner;
    }
  } finally {
    // A consumer that stops early (a range's end) closes the inputs (their open files).
    await Promise.all(iterators.map((it) => it.return?.()));
  }
}
