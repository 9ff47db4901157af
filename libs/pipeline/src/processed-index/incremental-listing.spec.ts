import { describe, expect, it } from 'vitest';
import type { SourceEntry } from '../source-lister';
import type { IndexEntry } from './index-entry';
import { IncrementalListing } from './incremental-listing';

const M = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);

function indexed(name: string, etag: string, modelHash = M, run = 'r1'): IndexEntry {
  return { uri: `s3://b/src/${name}`, etag, modelHash, run, file: 'part-00000000.parquet', status: 'ok', finalizedAt: '2026-01-01' };
}

function listed(name: string, etag: string): SourceEntry {
  return { cursor: `src/${name}`, object: { uri: `s3://b/src/${name}`, etag, size: 1 } };
}

async function* from<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

async function run(index: IndexEntry[], listing: SourceEntry[], options: { afterUri?: string; upToUri?: string; suffixes?: string[]; retryErrorsBefore?: string } = {}) {
  const incremental = new IncrementalListing({ index: from(index), modelHash: M, sourceUri: 's3://b/src/', suffixes: options.suffixes ?? [], ...options });
  const planned: string[] = [];
  for await (const entry of incremental.filter(from(listing))) planned.push(entry.object.uri.slice('s3://b/src/'.length));
  return { planned, deletions: incremental.takeDeletions().map((d) => d.uri.slice('s3://b/src/'.length)), stats: incremental.stats };
}

describe('IncrementalListing', () => {
  it('plans new objects, changed ETags and objects processed only with another model; records deletions', async () => {
    const { planned, deletions, stats } = await run(
      [indexed('a.jpg', 'e1'), indexed('b.jpg', 'e1'), indexed('c.jpg', 'e1', OTHER), indexed('gone.jpg', 'e1'), indexed('x.jpg', 'e1')],
      [listed('a.jpg', 'e1'), listed('b.jpg', 'e2'), listed('c.jpg', 'e1'), listed('new.jpg', 'e1'), listed('x.jpg', 'e1')],
    );
    expect(planned).toEqual(['b.jpg', 'c.jpg', 'new.jpg']);
    expect(deletions).toEqual(['gone.jpg']);
    expect(stats).toEqual({ listed: 5, planned: 3, unchanged: 2, deleted: 1 });
  });

  it('treats tombstones as not processed, and never reports them as deleted again', async () => {
    const tomb = (name: string): IndexEntry => ({ ...indexed(name, 'e1'), status: 'deleted' });
    const { planned, deletions } = await run([tomb('a.jpg'), tomb('b.jpg')], [listed('a.jpg', 'e1')]);
    expect(planned).toEqual(['a.jpg']);
    expect(deletions).toEqual([]);
  });

  it('ignores index entries outside the source, before the resume point, or filtered out by suffix', async () => {
    const outside: IndexEntry = { ...indexed('z.jpg', 'e'), uri: 's3://b/other/z.jpg' };
    const { planned, deletions } = await run([outside, indexed('a.jpg', 'e'), indexed('b.png', 'e'), indexed('d.jpg', 'e')], [listed('e.jpg', 'e')], {
      afterUri: 's3://b/src/b.png',
      suffixes: ['.JPG'],
    });
    expect(planned).toEqual(['e.jpg']);
    expect(deletions).toEqual(['d.jpg']);
  });

  it("finds deletions of a planning unit only within its key range (after, upTo]", async () => {
    const index = ['a.jpg', 'c.jpg', 'e.jpg', 'g.jpg', 'i.jpg'].map((name) => indexed(name, 'e'));
    // Unit (b, f]: c and e vanished from it; a and g, i are the other units' to judge.
    const { planned, deletions } = await run(index, [listed('d.jpg', 'e')], { afterUri: 's3://b/src/b', upToUri: 's3://b/src/f' });
    expect(planned).toEqual(['d.jpg']);
    expect(deletions).toEqual(['c.jpg', 'e.jpg']);
  });

  it('skips an unchanged object whose last entry is an error, unless the error is older than retryErrorsBefore', async () => {
    const failed = (name: string, finalizedAt: string): IndexEntry => ({ ...indexed(name, 'e1'), status: 'error', file: 'errors-00000000.parquet', finalizedAt });
    const index = [{ ...indexed('ok.jpg', 'e1'), finalizedAt: '2026-01-01T00:00:00.000Z' }, failed('old.jpg', '2026-01-01T00:00:00.000Z'), failed('recent.jpg', '2026-01-09T00:00:00.000Z')];
    const listing = [listed('ok.jpg', 'e1'), listed('old.jpg', 'e1'), listed('recent.jpg', 'e1')];
    const without = await run(index, listing);
    expect(without.planned).toEqual([]);
    expect(without.stats).toEqual({ listed: 3, planned: 0, unchanged: 3, deleted: 0 });
    const retrying = await run(index, listing, { retryErrorsBefore: '2026-01-05T00:00:00.000Z' });
    expect(retrying.planned).toEqual(['old.jpg']);
    expect(retrying.stats).toEqual({ listed: 3, planned: 1, unchanged: 2, deleted: 0, retried: 1 });
  });

  it('refuses a listing out of uri order', async () => {
    await expect(run([], [listed('b.jpg', 'e'), listed('a.jpg', 'e')])).rejects.toThrow(/not in uri order/);
  });
});
