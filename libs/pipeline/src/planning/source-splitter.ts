/**
 * Splitting a source into planning units (planning-unit.ts in libs/jobs):
 *
 * - an S3 prefix or a directory → key ranges `(after, upTo]`, found by start-after probes;
 * - a glob of manifests (`s3://b/lists/part-*.parquet`, `/data/lists/*.txt`) → one unit per file;
 * - a prefix of manifests (`s3://b/lists/**`, `/data/lists/**`; `--source-kind manifest` turns
 *   `s3://b/lists/` or a directory into that, see source-kind-resolver.ts) → one unit per
 *   manifest file under it, at any depth;
 * - an S3 Inventory report → one unit per data file (the `inventory-file` kind), in the order
 *   of its manifest.json (inventory-source.ts reads them).
 *
 * A split is computed once per run, by the producer holding the run's planning lock, and frozen
 * as one object per unit before any unit is planned; a resumed run never splits again.
 */
import { S3ObjectStore, compareKeys, mapBounded, openLocation, type ObjectStore, type S3Options } from '@siglip-batch/io';
import type { SourceKind } from '@siglip-batch/jobs';
import { MANIFEST_PREFIX_SEGMENT, manifestFormatOfName } from '../source-kind';
import { excludedFolders } from '../source-lister';

/** One key range of a prefix split: the keys `k` with `after < k ≤ upTo` (null: unbounded). */
export interface KeyRange {
  after: string | null;
  upTo: string | null;
}

export interface KeyRangeSplitOptions {
  /** Probes (ListObjectsV2 calls of one key) in flight at once. @defaultValue 16 */
  concurrency?: number;
  signal?: AbortSignal;
}

/** Sorts after every key that starts with the string it is appended to (the largest code point). */
const PAST = '\u{10FFFF}';
/** Candidate ranges wanted per unit before the split stops refining: balance within ~1/4 of a range. */
const CANDIDATES_PER_UNIT = 4;
/** Refinement stops at this depth (characters below the source prefix). */
const MAX_DEPTH = 48;

interface Candidate {
  /** Every key of the candidate starts with this. */
  prefix: string;
  /** Exclusive lower bound of the candidate's keys: the start-after that found it (null: the source's start). */
  after: string | null;
}

/**
 * Splits the keys under `prefix` into at most `units` consecutive ranges of about as many keys,
 * without listing them: start-after probes (one key each) find the distinct characters that
 * follow the prefix (`d0`, `d1`, … — a delimiter listing's prefixes are what this finds too),
 * then the characters after those, level by level, until there are
 * {@link CANDIDATES_PER_UNIT} × `units` candidate prefixes; consecutive candidates are then
 * grouped into `units` ranges of equal candidate count. The bounds are the start-after strings
 * of the probes, so the ranges partition the key space exactly whatever keys come and go, and
 * the split is deterministic for a given bucket. Balance assumes keys spread evenly over the
 * candidates (true for hashed, numbered or dated keys; a skewed bucket gives uneven units).
 *
 * Probes cost ~11 requests per candidate refined (digits), run {@link KeyRangeSplitOptions.concurrency}
 * at once; the candidates held are bounded by the number of units, never by the bucket.
 */
export async function splitKeyRange(store: ObjectStore, prefix: string, units: number, options: KeyRangeSplitOptions = {}): Promise<KeyRange[]> {
  if (units <= 1) return [{ after: null, upTo: null }];
  const wanted = units * CANDIDATES_PER_UNIT;
  const concurrency = options.concurrency ?? 16;
  let level: Candidate[] = [{ prefix, after: null }];
  for (let depth = 0; depth < MAX_DEPTH && level.length < wanted; depth++) {
    const children = await mapBounded(level, concurrency, (candidate) => childrenOf(store, candidate, options.signal));
    const next = children.flat();
    // Empty source, or nothing but keys equal to their prefix: nothing more to refine.
    if (next.length === 0) break;
    // Refining further would hold far more candidates than needed: stop at this level.
    if (next.length > wanted * 64) break;
    level = next;
  }
  const count = Math.min(units, level.length);
  const ranges: KeyRange[] = [];
  for (let u = 0; u < count; u++) {
    const start = Math.floor((u * level.length) / count);
    const end = Math.floor(((u + 1) * level.length) / count);
    ranges.push({ after: u === 0 ? null : level[start]!.after, upTo: u === count - 1 ? null : level[end]!.after });
  }
  return ranges;
}

/**
 * The candidates below `candidate`, in key order: its "folders" and keys from one delimiter
 * listing when it is an S3 folder of at most one page, else the candidates one character longer
 * (start-after probes). The first keeps the candidate's own lower bound, so that the key space
 * stays covered.
 */
async function childrenOf(store: ObjectStore, candidate: Candidate, signal: AbortSignal | undefined): Promise<Candidate[]> {
  if (store instanceof S3ObjectStore && (candidate.prefix === '' || candidate.prefix.endsWith('/'))) {
    const folders = await folderChildren(store, candidate, signal);
    if (folders) return folders;
  }
  const children: Candidate[] = [];
  let after = candidate.after;
  for (;;) {
    const key = await firstKeyAfter(store, candidate.prefix, after, signal);
    if (key === undefined) break;
    if (key.length === candidate.prefix.length) {
      // The key is the prefix itself: skip it (it belongs to the first child's range).
      after = key;
      continue;
    }
    const char = String.fromCodePoint(key.codePointAt(candidate.prefix.length)!);
    const childPrefix = candidate.prefix + char;
    children.push({ prefix: childPrefix, after: children.length === 0 ? candidate.after : after });
    after = childPrefix + PAST;
  }
  return children;
}

/** Entries of one delimiter listing at a time: a folder with more is split by probes instead. */
const FOLDER_PAGE = 1000;

/**
 * One ListObjectsV2 page with delimiter `/` (a bucket laid out in folders gives all its
 * top-level folders in one request, where probes need one per character); undefined when the
 * folder holds more than a page of entries (a flat folder of many keys: probes find its split
 * in far fewer requests than listing it would take).
 */
async function folderChildren(store: S3ObjectStore, candidate: Candidate, signal: AbortSignal | undefined): Promise<Candidate[] | undefined> {
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const page = await store.client.send(
    new ListObjectsV2Command({
      Bucket: store.bucket,
      Delimiter: '/',
      MaxKeys: FOLDER_PAGE,
      ...(candidate.prefix !== '' ? { Prefix: candidate.prefix } : {}),
      ...(candidate.after !== null ? { StartAfter: candidate.after } : {}),
    }),
    signal ? { abortSignal: signal } : {},
  );
  if (page.IsTruncated) return undefined;
  const entries = [
    ...(page.CommonPrefixes ?? []).map((folder) => ({ prefix: folder.Prefix!, past: folder.Prefix! + PAST })),
    // A key at this level is a candidate of its own (it has no children: it is merged into its neighbour's range).
    ...(page.Contents ?? []).map((object) => ({ prefix: object.Key!, past: object.Key! })),
  ].sort((a, b) => compareKeys(a.prefix, b.prefix));
  return entries.map((entry, i) => ({ prefix: entry.prefix, after: i === 0 ? candidate.after : entries[i - 1]!.past }));
}

async function firstKeyAfter(store: ObjectStore, prefix: string, after: string | null, signal: AbortSignal | undefined): Promise<string | undefined> {
  for await (const info of store.list(prefix, { pageSize: 1, ...(after !== null ? { startAfter: after } : {}), ...(signal ? { signal } : {}) })) {
    return info.key;
  }
  return undefined;
}

/**
 * True for a source naming several manifests: a `*` in its last path segment (a glob), or that
 * segment being `**` (every manifest under the folder).
 */
export function isManifestGlob(source: string, kind: SourceKind): boolean {
  if (kind !== 'manifest-text' && kind !== 'manifest-parquet') return false;
  const path = source.split('?')[0]!;
  return path.slice(path.lastIndexOf('/') + 1).includes('*');
}

/** A path segment (below a prefix of manifests) that is skipped, and all under it: Hadoop's hidden names. */
const HIDDEN_SEGMENT = /(^|\/)[_.]/;

/**
 * The manifest files a source of several manifests names, as URIs in key order, streamed: a
 * glob or a prefix over a million manifests holds one listing page at a time.
 *
 * - A glob (`part-*.parquet`): the files of its folder whose name matches (`*` matches any run
 *   of characters but `/`).
 * - A prefix (`<folder>/**`): every key under the folder, at any depth, whose name is a
 *   manifest's (`.txt`, `.lst`, `.list`, `.uris`, `.parquet`, as a single manifest source is
 *   told), except keys with a path segment below the folder starting with `_` or `.` (as
 *   Hadoop, Spark and pyarrow skip them: `_SUCCESS`, `_temporary/…`, `.part-0.parquet.crc`);
 *   anything else there (`_SUCCESS`, `.crc`, README files) is ignored.
 *
 * `exclude`: folders (URIs) never listed, such as an output root that lies inside the folder,
 * whose Parquet files are a run's outputs, not manifests.
 */
export async function* manifestFilesOf(source: string, s3?: S3Options, signal?: AbortSignal, exclude: readonly string[] = []): AsyncGenerator<string> {
  const slash = source.lastIndexOf('/');
  const folder = source.slice(0, slash + 1);
  const pattern = source.slice(slash + 1);
  const { store, prefix } = openLocation(folder === '' ? '.' : folder, s3);
  const folderPrefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
  const excluded = excludedFolders(store.uriOf(folderPrefix), exclude);
  const wanted: (name: string) => boolean =
    pattern === MANIFEST_PREFIX_SEGMENT
      ? (name) => manifestFormatOfName(name) !== undefined && !HIDDEN_SEGMENT.test(name)
      : matcherOf(pattern);
  const literal = pattern === MANIFEST_PREFIX_SEGMENT ? '' : pattern.slice(0, pattern.indexOf('*'));
  try {
    for await (const info of store.list(folderPrefix + literal, signal ? { signal } : {})) {
      const name = info.key.slice(folderPrefix.length);
      if (!wanted(name)) continue;
      const uri = store.uriOf(info.key);
      if (excluded.length > 0 && excluded.some((skipped) => uri.startsWith(skipped))) continue;
      yield uri;
    }
  } finally {
    store.close();
  }
}

function matcherOf(pattern: string): (name: string) => boolean {
  const matcher = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('[^/]*')}$`);
  return (name) => matcher.test(name);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whether `key` lies in `range` (byte order). */
export function inKeyRange(key: string, range: KeyRange): boolean {
  return (range.after === null || compareKeys(key, range.after) > 0) && (range.upTo === null || compareKeys(key, range.upTo) <= 0);
}

/** What a source of several manifests that names none is told (an empty prefix or a glob matching nothing). */
export function noManifestMessage(source: string): string {
  const slash = source.lastIndexOf('/');
  if (source.slice(slash + 1) === MANIFEST_PREFIX_SEGMENT) {
    return (
      `no manifest file under ${source.slice(0, slash + 1)} (a prefix of manifests plans every .txt, .lst, .list, .uris and .parquet file under it, ` +
      'skipping names that start with _ or .): nothing to plan'
    );
  }
  return `no file matches the manifest glob ${source}: nothing to plan`;
}

/**
 * Checks at start that a source of several manifests names at least one (reads the listing up
 * to the first match): an empty prefix or a glob matching nothing is a configuration error.
 */
export async function checkManifestFilesExist(source: string, s3?: S3Options, signal?: AbortSignal): Promise<void> {
  const files = manifestFilesOf(source, s3, signal);
  try {
    const first = await files.next();
    if (first.done) throw new Error(noManifestMessage(source));
  } finally {
    await files.return(undefined);
  }
}
