/**
 * The virtual bucket of the scale bench: object `i` of a bucket of `n` objects is
 * `d<i mod 64, 2 digits>/<i, 10 digits>.jpg`, so the bucket has 64 top-level prefixes (what a
 * planner splitting by delimiter listing finds) and keys sorted by prefix, then by `i`. Nothing
 * is stored: a key is computed from its rank in the sorted listing and back, so a listing of
 * 1e7 (or 1e10) objects costs the endpoint no memory. Growing `n` (the nightly run's 1 % of new
 * objects) adds keys under every prefix, spread over the whole key space as new uploads are,
 * and leaves every old object's key, ETag and size as they were.
 */
import { createHash } from 'node:crypto';

export const TOP_PREFIXES = 64;

export function keyOfIndex(i: number): string {
  return `d${String(i % TOP_PREFIXES).padStart(2, '0')}/${String(i).padStart(10, '0')}.jpg`;
}

/** The object index a key names, or -1 for a key that is not one of the bucket's. */
export function indexOfKey(key: string): number {
  const match = /^d(\d{2})\/(\d{10})\.jpg$/.exec(key);
  if (!match) return -1;
  const i = Number(match[2]);
  return i % TOP_PREFIXES === Number(match[1]) ? i : -1;
}

/** Deterministic ETag (32 hex digits, no quotes), the same for object `i` in every size of bucket. */
export function etagOfIndex(i: number): string {
  return createHash('md5').update(`object-${i}`).digest('hex');
}

export function sizeOfIndex(i: number): number {
  return 50_000 + (i % 1000);
}

/** Keys of the bucket in sorted order, by rank. */
export class VirtualBucket {
  private readonly perPrefix: number;
  private readonly extra: number;

  constructor(readonly objects: number) {
    this.perPrefix = Math.floor(objects / TOP_PREFIXES);
    this.extra = objects % TOP_PREFIXES;
  }

  /** Keys under prefix `p` (`d<p>/`). */
  private countIn(p: number): number {
    return this.perPrefix + (p < this.extra ? 1 : 0);
  }

  /** Keys under the prefixes before `p`. */
  private before(p: number): number {
    return p * this.perPrefix + Math.min(p, this.extra);
  }

  keyAt(rank: number): string {
    let p = Math.min(TOP_PREFIXES - 1, Math.floor(rank / Math.max(1, this.perPrefix + 1)));
    while (p > 0 && this.before(p) > rank) p--;
    while (p < TOP_PREFIXES - 1 && this.before(p + 1) <= rank) p++;
    const j = rank - this.before(p);
    if (j < 0 || j >= this.countIn(p)) throw new RangeError(`rank ${rank} outside a bucket of ${this.objects}`);
    return keyOfIndex(j * TOP_PREFIXES + p);
  }

  /** The first rank whose key satisfies `after(key)` (a predicate false then true along the order). */
  firstRank(after: (key: string) => boolean): number {
    let lo = 0;
    let hi = this.objects;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (after(this.keyAt(mid))) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
