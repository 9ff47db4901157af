/**
 * `siglip-batch index` and `search` through it, against real moto S3 and a local directory: a run
 * embedded with `embed` (tiny model) is turned into a LanceDB table with a vector index; search
 * goes through it and finds an image of the run first; `--exact` gives what search gave before
 * the index existed; a later incremental run (`embed --incremental`: only changed and new objects
 * embedded, vanished ones recorded as deletions) is added with `index --incremental` (a changed
 * object replaced, new ones appended, the run's deletions applied); a small run's own table (no ANN
 * index) is searched only when named, the exact scan staying its default; the output's `latest` view is
 * indexed with `--latest` and merged into a run table (rows replaced by uri, an object that left
 * the view — its newest run made an error row of it — deleted). The table is read back with LanceDB itself.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import * as lancedb from '@lancedb/lancedb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { rowId } from '@siglip-batch/jobs';
import { TINY_MODEL, runCli } from './support/cli';
import { TEST_AWS_ENV, emptyAndDeleteBucket, makeS3Client, uniqueName } from './support/harness';
import { makeSampleImage, type SampleImage } from './support/sample-images';

const s3Endpoint = inject('s3Endpoint');
const bucket = uniqueName('lance').toLowerCase();
const work = mkdtempSync(join(tmpdir(), 'siglip-lance-'));
const env: NodeJS.ProcessEnv = { ...process.env, ...TEST_AWS_ENV, AWS_ENDPOINT_URL_S3: s3Endpoint, SIGLIP_BATCH_CACHE: join(work, 'cache') };
const storageOptions = {
  aws_endpoint: s3Endpoint,
  aws_region: TEST_AWS_ENV.AWS_REGION,
  aws_access_key_id: TEST_AWS_ENV.AWS_ACCESS_KEY_ID,
  aws_secret_access_key: TEST_AWS_ENV.AWS_SECRET_ACCESS_KEY,
  allow_http: 'true',
  aws_virtual_hosted_style_request: 'false',
};
let s3: S3Client;
let images: SampleImage[];
const srcUri = (name: string) => `s3://${bucket}/src/${name}`;

interface SearchJson {
  rows: number;
  index?: { uri: string; type: string };
  hits: Array<{ uri: string; score: number; rowId?: string }>;
}

async function cli(args: string[]): Promise<string> {
  // Generous: the machines that run these are shared, and each call starts a process and a model.
  const result = await runCli(args, env, 300_000);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout;
}

async function put(name: string, image: SampleImage): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `src/${name}`, Body: image.bytes }));
}

async function embed(run: string, extra: string[] = []): Promise<void> {
  await cli(['embed', '--source', `s3://${bucket}/src/`, '--out', `s3://${bucket}/out/`, '--model', TINY_MODEL, '--run', run, '--labels', 'cat,dog', '--shard-size', '5', '--threads', '1', ...extra]);
}

async function search(run: string, args: string[]): Promise<SearchJson> {
  return JSON.parse(await cli(['search', '--run', run, '--model', TINY_MODEL, '--json', '--threads', '1', ...args])) as SearchJson;
}

function imageFile(image: SampleImage): string {
  const path = join(work, image.name);
  writeFileSync(path, image.bytes);
  return path;
}

async function tableRows(uri: string, options: Record<string, string>): Promise<Array<{ row_id: bigint; uri: string; tags: string[] }>> {
  const db = await lancedb.connect(uri, { storageOptions: options });
  try {
    const table = await db.openTable('embeddings');
    const rows = await table.query().select(['row_id', 'uri', 'tags']).toArray();
    table.close();
    return rows.map((row: { row_id: bigint; uri: string; tags: { toArray(): string[] } }) => ({ row_id: BigInt(row.row_id), uri: row.uri, tags: [...row.tags.toArray()] }));
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  s3 = makeS3Client(s3Endpoint);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  images = await Promise.all(Array.from({ length: 14 }, (_, i) => makeSampleImage(i)));
  for (const image of images.slice(0, 10)) await put(image.name, image);
  await embed('r1');
}, 300_000);

afterAll(async () => {
  await emptyAndDeleteBucket(s3, bucket).catch(() => undefined);
  s3.destroy();
  rmSync(work, { recursive: true, force: true });
});

describe('index on S3 (moto)', () => {
  const run = () => `s3://${bucket}/out/r1/`;
  const table = () => `s3://${bucket}/out/r1/_lancedb/`;
  let before: SearchJson;

  it('builds the table in the run folder, and search goes through its vector index', async () => {
    before = await search(run(), ['--image', imageFile(images[4]!), '-k', '10']);
    expect(before.index).toBeUndefined();

    const built = JSON.parse(await cli(['index', '--run', run(), '--index-type', 'ivf_hnsw_sq', '--json'])) as { rows: number; added: number; index: { type: string } };
    expect(built).toMatchObject({ rows: 10, added: 10, index: { type: 'ivf_hnsw_sq' } });
    const info = JSON.parse((await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'out/r1/_lancedb/_index.json' }))).Body!.transformToString())) as { lastRun: { runId: string } };
    expect(info.lastRun.runId).toBe('r1');

    const rows = await tableRows(table().replace(/\/$/, ''), storageOptions);
    expect(rows.map((row) => row.uri).sort()).toEqual(images.slice(0, 10).map((image) => `s3://${bucket}/src/${image.name}`).sort());
    expect(new Set(rows.map((row) => row.row_id)).size).toBe(10);
    for (const row of rows) expect(row.row_id >= 0n).toBe(true);

    for (const image of [images[4]!, images[9]!]) {
      const found = await search(run(), ['--image', imageFile(image), '-k', '3']);
      expect(found.index).toEqual({ uri: table(), type: 'ivf_hnsw_sq' });
      expect(found.hits[0]!.uri).toBe(srcUri(image.name));
      expect(found.hits[0]!.score).toBeCloseTo(1, 3);
      expect(rows.find((row) => row.uri === found.hits[0]!.uri)!.row_id.toString()).toBe(found.hits[0]!.rowId);
    }
  });

  it('files lists the run on S3: part files as s3:// URIs under parts/, the same files and rows the manifest lists', async () => {
    const parts = (await cli(['files', '--run', run()])).split('\n').filter(Boolean);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'out/r1/parts/' }));
    expect([...parts].sort()).toEqual((listed.Contents ?? []).map((object) => `s3://${bucket}/${object.Key!}`).sort());
    expect(parts.length).toBe(2); // 10 objects in shards of 5
    const json = (await cli(['files', '--run', run(), '--kind', 'part', '--json']))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { uri: string; rows: number });
    expect(json.map((file) => file.uri).sort()).toEqual([...parts].sort());
    expect(json.reduce((sum, file) => sum + file.rows, 0)).toBe(10);
  });

  it('--exact searches as before the index existed', async () => {
    const exact = await search(run(), ['--image', imageFile(images[4]!), '-k', '10', '--exact']);
    expect(exact.index).toBeUndefined();
    expect(exact.hits).toEqual(before.hits);
    expect(exact.hits[0]!.uri).toBe(`s3://${bucket}/src/${images[4]!.name}`);
  });

  it('adds a real incremental run with --incremental: deleted uris gone, new ones appended, changed ones replaced', async () => {
    // Since r1: img 1's object rewritten (img 12's bytes), img 10, 11 and 13 new, img 2 and 3
    // deleted. r2 is an incremental run: it embeds only what changed and records the vanished
    // objects in its deletions files, as a nightly run does.
    await put(images[1]!.name, images[12]!);
    for (const i of [10, 11, 13]) await put(images[i]!.name, images[i]!);
    const gone = [2, 3].map((i) => srcUri(images[i]!.name));
    for (const i of [2, 3]) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `src/${images[i]!.name}` }));
    await embed('r2', ['--incremental']);
    const r2 = `s3://${bucket}/out/r2/`;
    // The run wrote its deletions files (what index --incremental reads).
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'out/r2/deletions/' }));
    expect(listed.Contents?.length ?? 0).toBeGreaterThan(0);

    // r2's 4 rows: img 1 replaces r1's row of the same uri, 3 are new; then the 2 deleted objects go.
    const r1Rows = await tableRows(table().replace(/\/$/, ''), storageOptions);
    const added = JSON.parse(await cli(['index', '--run', r2, '--to', table(), '--incremental', '--json'])) as { rows: number; added: number; deleted: number; runsAdded: number };
    expect(added).toMatchObject({ added: 4, deleted: 2, rows: 11, runsAdded: 2 });
    const rows = await tableRows(table().replace(/\/$/, ''), storageOptions);
    const expected = [0, 1, 4, 5, 6, 7, 8, 9, 10, 11, 13].map((i) => srcUri(images[i]!.name));
    expect(rows.map((row) => row.uri).sort()).toEqual(expected.sort());
    for (const uri of gone) expect(rows.some((row) => row.uri === uri)).toBe(false);
    // Changed and new objects are r2's rows (its run tag in the row id), the unchanged ones still r1's.
    const runOf = (uri: string) => rows.find((row) => row.uri === uri)!.row_id >> 47n;
    for (const i of [1, 10, 11, 13]) expect(runOf(srcUri(images[i]!.name)), images[i]!.name).toBe(rowId('r2', 0, 0) >> 47n);
    for (const i of [0, 4, 9]) {
      const uri = srcUri(images[i]!.name);
      expect(runOf(uri), images[i]!.name).toBe(rowId('r1', 0, 0) >> 47n);
      expect(rows.find((row) => row.uri === uri)!.row_id).toBe(r1Rows.find((row) => row.uri === uri)!.row_id);
    }

    // Adding r2 again replaces its rows instead of appending them twice (its deletions find nothing).
    const again = JSON.parse(await cli(['index', '--run', r2, '--to', table(), '--incremental', '--json'])) as { rows: number; deleted: number };
    expect(again).toMatchObject({ rows: 11, deleted: 0 });

    // Search through the index: the rewritten object is found by its new image, a new one by its own.
    for (const [image, uri] of [
      [images[12]!, srcUri(images[1]!.name)],
      [images[10]!, srcUri(images[10]!.name)],
    ] as const) {
      const found = await search(r2, ['--image', imageFile(image), '-k', '2', '--index', table()]);
      expect(found.index?.type).toBe('ivf_hnsw_sq');
      expect(found.hits[0]!.uri).toBe(uri);
      expect(found.hits[0]!.score).toBeCloseTo(1, 3);
    }
  }, 600_000);

  it('a small run keeps the exact scan: its own table (no ANN index below 10,000 rows) is used only when named', async () => {
    const r2 = `s3://${bucket}/out/r2/`;
    const built = JSON.parse(await cli(['index', '--run', r2, '--json'])) as { rows: number; index: { type: string } };
    expect(built).toMatchObject({ rows: 4, index: { type: 'none' } });
    const scanned = await search(r2, ['--image', imageFile(images[10]!), '-k', '2']);
    expect(scanned.index).toBeUndefined();
    expect(scanned.hits[0]!.uri).toBe(srcUri(images[10]!.name));
    const named = await search(r2, ['--image', imageFile(images[10]!), '-k', '2', '--index', `${r2}_lancedb/`]);
    expect(named.index?.type).toBe('none');
    expect(named.hits.map((hit) => hit.uri)).toEqual(scanned.hits.map((hit) => hit.uri));
  }, 300_000);

  it('indexes the latest view with --latest, and merges it into a run table by uri, deleting what left the view', async () => {
    // r3, incremental again: img 0's object is no image any more (a new ETag), so r3 plans it
    // alone, makes an error row of it, embeds nothing (exit 4), and img 0 leaves the latest view.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `src/${images[0]!.name}`, Body: Buffer.from('not an image') }));
    const r3 = await runCli(['embed', '--source', `s3://${bucket}/src/`, '--out', `s3://${bucket}/out/`, '--model', TINY_MODEL, '--run', 'r3', '--labels', 'cat,dog', '--shard-size', '5', '--threads', '1', '--incremental'], env, 300_000);
    expect(r3.code, r3.stderr).toBe(4);
    await cli(['latest', '--out', `s3://${bucket}/out/`]);
    // The view: r2's rows of what changed or came since r1, r1's of the rest; img 2 and 3 not
    // (r2's deletions), img 0 not (r3's error row).
    const viewUris = [1, 4, 5, 6, 7, 8, 9, 10, 11, 13].map((i) => srcUri(images[i]!.name)).sort();
    const dir = join(work, 'tables', 'latest');
    const built = JSON.parse(await cli(['index', '--latest', `s3://${bucket}/out/_latest/`, '--to', dir, '--json'])) as { rows: number; added: number; lastRun: { runId: string } };
    expect(built).toMatchObject({ rows: 10, added: 10, lastRun: { runId: 'latest' } });
    const rows = await tableRows(dir, {});
    expect(rows.map((row) => row.uri).sort()).toEqual(viewUris);
    expect(rows.find((row) => row.uri === srcUri(images[4]!.name))!.row_id >> 47n).toBe(rowId('r1', 0, 0) >> 47n);
    expect(rows.find((row) => row.uri === srcUri(images[1]!.name))!.row_id >> 47n).toBe(rowId('r2', 0, 0) >> 47n);

    // Into r2's table (which has scores): rows replaced by uri, img 0 goes.
    const merged = JSON.parse(await cli(['index', '--latest', `s3://${bucket}/out/`, '--to', table(), '--incremental', '--json'])) as { rows: number; added: number; deleted: number; runsAdded: number };
    expect(merged).toMatchObject({ rows: 10, added: 10, deleted: 1, runsAdded: 4 });
    const db = await lancedb.connect(table().replace(/\/$/, ''), { storageOptions });
    try {
      const lance = await db.openTable('embeddings');
      const scored = await lance.query().select(['uri', 'scores']).toArray();
      lance.close();
      expect(scored.map((row: { uri: string }) => row.uri).sort()).toEqual(viewUris);
      // Every row is the view's now: the view has no scores (runs may score different labels).
      for (const row of scored as Array<{ uri: string; scores: unknown }>) expect(row.scores, row.uri).toBeNull();
    } finally {
      db.close();
    }
    const found = await search(`s3://${bucket}/out/r2/`, ['--image', imageFile(images[4]!), '-k', '1', '--index', table()]);
    expect(found.hits[0]!.uri).toBe(srcUri(images[4]!.name));

    const usage = await runCli(['index', '--latest', `s3://${bucket}/out/`], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--to');
  }, 600_000);

  it('refuses to rebuild over a table of several runs without --overwrite, and --incremental without --to', async () => {
    const refused = await runCli(['index', '--run', run()], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('--incremental');
    const usage = await runCli(['index', '--run', run(), '--incremental'], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--to');
  });
});

describe('index in a local directory', () => {
  it('builds a table from an S3 run into a directory (no ANN index at 10 rows); search --index uses it', async () => {
    const dir = join(work, 'tables', 'r1');
    const built = JSON.parse(await cli(['index', '--run', `s3://${bucket}/out/r1/`, '--to', dir, '--json'])) as { rows: number; index: { type: string } };
    expect(built).toMatchObject({ rows: 10, index: { type: 'none' } });
    const rows = await tableRows(dir, {});
    expect(rows).toHaveLength(10);
    expect(rows.every((row) => row.tags.every((tag) => tag === 'cat' || tag === 'dog'))).toBe(true);
    const found = await search(`s3://${bucket}/out/r1/`, ['--image', imageFile(images[6]!), '-k', '3', '--index', dir]);
    expect(found.index).toEqual({ uri: dir, type: 'none' });
    expect(found.hits[0]!.uri).toBe(`s3://${bucket}/src/${images[6]!.name}`);
  });
});
