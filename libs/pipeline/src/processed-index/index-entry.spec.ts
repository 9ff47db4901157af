import { describe, expect, it } from 'vitest';
import { mergeEntries, type IndexEntry } from './index-entry';

function entry(uri: string, run: string, finalizedAt: string, modelHash = 'aa'): IndexEntry {
  return { uri, etag: `e-${run}`, modelHash, run, file: 'part-00000000.parquet', status: 'ok', finalizedAt };
}

async function* from(entries: IndexEntry[]): AsyncGenerator<IndexEntry> {
  yield* entries;
}

async function collect(stream: AsyncIterable<IndexEntry>): Promise<IndexEntry[]> {
  const out: IndexEntry[] = [];
  for await (const e of stream) out.push(e);
  return out;
}

describe('mergeEntries', () => {
  it('merges sorted inputs, one entry per (uri, model), the newest run winning', async () => {
    const merged = await collect(
      mergeEntries([
        from([entry('s3://b/a.jpg', 'r1', '2026-01-01'), entry('s3://b/c.jpg', 'r1', '2026-01-01')]),
        from([entry('s3://b/a.jpg', 'r2', '2026-01-02'), entry('s3://b/b.jpg', 'r2', '2026-01-02'), entry('s3://b/c.jpg', 'r2', '2026-01-02', 'bb')]),
      ]),
    );
    expect(merged.map((e) => `${e.uri} ${e.modelHash} ${e.run}`)).toEqual([
      's3://b/a.jpg aa r2',
      's3://b/b.jpg aa r2',
      's3://b/c.jpg aa r1',
      's3://b/c.jpg bb r2',
    ]);
  });

  it('orders by UTF-8 bytes, as listings do, and refuses unsorted input', async () => {
    const merged = await collect(mergeEntries([from([entry('s3://b/\uffff', 'r', 'x')]), from([entry('s3://b/😀', 'r', 'x')])]));
    expect(merged.map((e) => e.uri)).toEqual(['s3://b/\uffff', 's3://b/😀']);
    await expect(collect(mergeEntries([from([entry('s3://b/z', 'r', 'x'), entry('s3://b/a', 'r', 'x')])]))).rejects.toThrow(/not sorted/);
  });
});
