/**
 * Label tags written back to S3 objects (`enqueue --write-s3-tags`), as a pure function of the
 * object's current tag set and the row's tags, so that writing is idempotent and testable.
 *
 * Scheme: one tag per label, key `siglip:<label>` (the label sanitised to S3's tag characters),
 * value the label's score with 4 decimals. Tags whose key starts with `siglip:` are ours and are
 * replaced as a whole on every write; any other tag is foreign and kept as it is.
 */

/** S3's limits on object tags. */
export const S3_MAX_TAGS = 10;
export const S3_MAX_TAG_KEY_LENGTH = 128;
export const S3_MAX_TAG_VALUE_LENGTH = 256;
/** Prefix of the tag keys we own. */
export const S3_TAG_PREFIX = 'siglip:';

export interface Tag {
  key: string;
  value: string;
}

export interface ScoredLabel {
  label: string;
  score: number;
}

export type TagMerge =
  /** Write `tags` (foreign ones first, then ours best first). */
  | { action: 'put'; tags: Tag[]; written: number; dropped: number }
  /** The object already has exactly these tags (a retried shard): nothing to write. */
  | { action: 'unchanged'; written: number }
  /** Foreign tags use every slot: the object is left alone. */
  | { action: 'full' };

// Letters and digits of any script, spaces and + - = . _ : / @ (S3's documented set).
const DISALLOWED = /[^\p{L}\p{N} +\-=._:/@]/gu;

/** A label as a tag key: disallowed characters become `_`, spaces collapse, S3's length limit. */
export function tagKeyOf(label: string): string {
  const clean = label.normalize('NFC').replace(/\s+/g, ' ').trim().replace(DISALLOWED, '_');
  return `${S3_TAG_PREFIX}${[...(clean === '' ? '_' : clean)].slice(0, S3_MAX_TAG_KEY_LENGTH - S3_TAG_PREFIX.length).join('')}`;
}

/** A score as a tag value: 4 decimals ("0.8731"). */
export function tagValueOf(score: number): string {
  return Math.min(1, Math.max(0, score)).toFixed(4);
}

export function isOwnTag(key: string): boolean {
  return key.startsWith(S3_TAG_PREFIX);
}

/**
 * The object's new tag set: its foreign tags unchanged, then ours for `labels` (best first),
 * as many as the slots left allow (our lowest-scoring are dropped first). Two labels that
 * sanitise to one key keep the better score.
 */
export function mergeTags(existing: readonly Tag[], labels: readonly ScoredLabel[]): TagMerge {
  const foreign = existing.filter((tag) => !isOwnTag(tag.key));
  if (foreign.length >= S3_MAX_TAGS) return { action: 'full' };
  const ours = new Map<string, ScoredLabel>();
  for (const label of [...labels].sort((a, b) => b.score - a.score)) {
    const key = tagKeyOf(label.label);
    if (!ours.has(key) && !foreign.some((tag) => tag.key === key)) ours.set(key, label);
  }
  const wanted = [...ours].map(([key, label]) => ({ key, value: tagValueOf(label.score) }));
  const room = S3_MAX_TAGS - foreign.length;
  const kept = wanted.slice(0, room);
  const tags = [...foreign, ...kept];
  if (sameTagSet(existing, tags)) return { action: 'unchanged', written: kept.length };
  return { action: 'put', tags, written: kept.length, dropped: wanted.length - kept.length };
}

function sameTagSet(a: readonly Tag[], b: readonly Tag[]): boolean {
  if (a.length !== b.length) return false;
  const values = new Map(a.map((tag) => [tag.key, tag.value]));
  return b.every((tag) => values.get(tag.key) === tag.value);
}
