import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '@siglip-batch/io';
import { encodeErrorsFile, openRunFolder, type RunFolder } from '@siglip-batch/run-format';
import type { ExtraColumn, RunManifest, RunSpec } from '@siglip-batch/jobs';
import { runSpecFixture } from '@siglip-batch/jobs/testing';
import { listErrorsSource, readRetriedRun } from './errors-source';

let dir: string;
let store: LocalObjectStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'siglip-retry-'));
  store = new LocalObjectStore(dir);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const MODEL = { hash: 'ab'.repeat(32), variant: 'fp32' as const, checkpoint: 'x', embedDim: 2, textLength: 16, imageSize: { height: 1, width: 1 } };
const EXTRA: ExtraColumn[] = [
  { name: 'caption', type: 'string' },
  { name: 'shot_id', type: 'int64' },
];

interface Row {
  name: string;
  code: string;
}

/** A finalised run `out/<runId>/` whose errors files hold `files` (one per shard), with pass-through columns. */
async function finishedRun(runId: string, files: Row[][], options: { spec?: Partial<RunSpec>; manifest?: boolean } = {}): Promise<RunFolder> {
  const folder = openRunFolder({ output: { store, prefix: 'out/' }, runId: runId });
  const entries = [];
  for (const [shard, rows] of files.entries()) {
    const key = `errors-${String(shard).padStart(8, '0')}.parquet`;
    await store.put(
      folder.keyOf(key),
      encodeErrorsFile({
        uri: rows.map((row) => `s3://b/src/${row.name}`),
        etag: rows.map((row) => `etag-${row.name}`),
        sizeBytes: rows.map((_, i) => 100 + i),
        errorCode: rows.map((row) => row.code),
        error: rows.map((row) => `failed: ${row.code}`),
        extra: { columns: EXTRA, values: rows.map((row, i) => [`caption of ${row.name}`, String(9_007_199_254_740_993n + BigInt(i))]) },
        metadata: {},
      }),
    );
    entries.push({ shard, key, rows: rows.length });
  }
  const count = files.flat().length;
  await folder.writeRunSpec(
    runSpecFixture({ runId, output: `file://${dir}/out`, model: MODEL, filters: { maxBytes: 1, maxPixels: 1 }, createdAt: '2026-01-01T00:00:00Z', ...options.spec }),
  );
  if (options.manifest === false) return folder;
  const manifest = {
    schemaVersion: 1,
    runId,
    source: 's3://b/src/',
    model: MODEL,
    labels: null,
    templates: ['{}'],
    embeddingDim: 2,
    shards: files.length,
    parts: [],
    errors: entries,
    labelsFile: null,
    counts: { planned: count, ok: 0, error: count, byErrorCode: {} },
    timings: { createdAt: '2026-01-01T00:00:00Z', listedAt: null, finalizedAt: '2026-01-01T00:01:00Z', shardMs: {} },
  } satisfies RunManifest;
  await folder.writeManifest(manifest);
  return folder;
}

const FILES: Row[][] = [
  [
    { name: 'a.jpg', code: 'decode_failed' },
    { name: 'b.jpg', code: 'not_found' },
  ],
  [
    { name: 'c.png', code: 'decode_failed' },
    { name: 'd.jpg', code: 'access_denied' },
    { name: 'e.jpg', code: 'decode_failed' },
  ],
];

async function list(options: { codes?: string[] | null; after?: string | null; suffixes?: string[] } = {}) {
  const listing = await listErrorsSource(`file://${dir}/out/r1/`, { codes: options.codes ?? null, after: options.after ?? null, suffixes: options.suffixes ?? [] });
  const entries = [];
  for await (const entry of listing.entries) entries.push(entry);
  return { extraColumns: listing.extraColumns, entries };
}

describe('listErrorsSource', () => {
  it("streams every error row of the run's manifest, in order, with its uri, etag, size and pass-through columns", async () => {
    await finishedRun('r1', FILES);
    const { extraColumns, entries } = await list();
    expect(extraColumns).toEqual(EXTRA);
    expect(entries.map((e) => e.object.uri)).toEqual(['a.jpg', 'b.jpg', 'c.png', 'd.jpg', 'e.jpg'].map((n) => `s3://b/src/${n}`));
    expect(entries.map((e) => e.cursor)).toEqual(['#1', '#2', '#3', '#4', '#5']);
    expect(entries[3]!.object).toEqual({ uri: 's3://b/src/d.jpg', etag: 'etag-d.jpg', size: 101, extra: ['caption of d.jpg', '9007199254740994'] });
  });

  it('keeps only the rows with the given codes (and suffixes); a code no file holds plans nothing', async () => {
    await finishedRun('r1', FILES);
    expect((await list({ codes: ['decode_failed'] })).entries.map((e) => [e.object.uri.slice(11), e.cursor])).toEqual([
      ['a.jpg', '#1'],
      ['c.png', '#3'],
      ['e.jpg', '#5'],
    ]);
    expect((await list({ codes: ['decode_failed', 'not_found'], suffixes: ['.jpg'] })).entries.map((e) => e.object.uri.slice(11))).toEqual(['a.jpg', 'b.jpg', 'e.jpg']);
    expect((await list({ codes: ['too_large_pixels'] })).entries).toEqual([]);
  });

  it('resumes right after a cursor, in a later file or in the middle of one', async () => {
    await finishedRun('r1', FILES);
    expect((await list({ after: '#2' })).entries.map((e) => e.object.uri.slice(11))).toEqual(['c.png', 'd.jpg', 'e.jpg']);
    expect((await list({ after: '#4', codes: ['decode_failed'] })).entries.map((e) => e.cursor)).toEqual(['#5']);
    expect((await list({ after: '#5' })).entries).toEqual([]);
  });

  it('refuses a run without a manifest, saying it is not finalised', async () => {
    await finishedRun('r1', FILES, { manifest: false });
    await expect(list()).rejects.toThrow(/cannot retry the errors of file:\/\/.*\/out\/r1: it has no _manifest.json, so the run is not finalised/);
    await expect(readRetriedRun(`${dir}/out/r1`)).rejects.toThrow(/not finalised/);
  });
});

describe('readRetriedRun', () => {
  it("names the run folder, its output root and the source of its objects — a retry's, the first run's", async () => {
    await finishedRun('r1', FILES);
    const first = await readRetriedRun(`${dir}/out/r1`);
    expect(first).toMatchObject({ run: `file://${dir}/out/r1`, output: `file://${dir}/out/`, objectSource: 's3://b/src/', objectSourceKind: 's3' });
    await finishedRun('r2', [FILES[0]!], {
      spec: { source: first.run, sourceKind: 'errors', retryErrors: { codes: ['decode_failed'], objectSource: 's3://b/lists/m.txt', objectSourceKind: 'manifest-text' } },
    });
    expect(await readRetriedRun(`${dir}/out/r2/`)).toMatchObject({ objectSource: 's3://b/lists/m.txt', objectSourceKind: 'manifest-text' });
  });
});
