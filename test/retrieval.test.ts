/**
 * Retrieval against real services (moto S3): a run embedded with `siglip-batch embed`, then
 * `search` (image and text queries, every engine) and `retag` (new labels from the stored
 * embeddings, with the source images deleted first, so that reading one would fail the run).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runManifestSchema, type RunManifest } from '@siglip-batch/jobs';
import { SiglipModel, buildLabelSet } from '@siglip-batch/model';
import { manifestFiles } from './support/run-files';
import { TINY_MODEL, runCli } from './support/cli';
import { TEST_AWS_ENV, emptyAndDeleteBucket, makeS3Client, uniqueName } from './support/harness';
import { makeSampleImage, type SampleImage } from './support/sample-images';
import { CreateBucketCommand } from '@aws-sdk/client-s3';

const IMAGES = 24;
const s3Endpoint = inject('s3Endpoint');
const bucket = uniqueName('retrieval').toLowerCase();
const work = mkdtempSync(join(tmpdir(), 'siglip-retrieval-'));
const env: NodeJS.ProcessEnv = {
  ...process.env,
  ...TEST_AWS_ENV,
  AWS_ENDPOINT_URL_S3: s3Endpoint,
  REDIS_URL: inject('redisUrl'),
  SIGLIP_BATCH_CACHE: join(work, 'cache'),
};
let s3: S3Client;
let images: SampleImage[];

interface SearchJson {
  rows: number;
  hits: Array<{ uri: string; score: number }>;
}

beforeAll(async () => {
  s3 = makeS3Client(s3Endpoint);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  images = [];
  for (let i = 0; i < IMAGES; i++) images.push(await makeSampleImage(i));
  await Promise.all(images.map((image) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: `src/${image.name}`, Body: image.bytes }))));
  const result = await runCli(
    ['embed', '--source', `s3://${bucket}/src/`, '--out', `s3://${bucket}/out/`, '--model', TINY_MODEL, '--run', 'r1', '--labels', 'cat,dog', '--shard-size', '10', '--threads', '1'],
    env,
  );
  expect(result.code, result.stderr).toBe(0);
}, 300_000);

afterAll(async () => {
  await emptyAndDeleteBucket(s3, bucket).catch(() => undefined);
  s3.destroy();
  rmSync(work, { recursive: true, force: true });
});

async function readObject(key: string): Promise<Buffer> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await response.Body!.transformToByteArray());
}

async function search(args: string[]): Promise<SearchJson> {
  const result = await runCli(['search', '--run', `s3://${bucket}/out/r1/`, '--model', TINY_MODEL, '--json', '--threads', '1', ...args], env);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as SearchJson;
}

async function query<T>(sql: string): Promise<T[]> {
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    return (await connection.runAndReadAll(sql)).getRowObjectsJS() as T[];
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

describe('search', () => {
  it.each(['cache', 'duckdb', 'scan'])('returns the query image first (engine %s)', async (engine) => {
    const image = images[7]!;
    const path = join(work, image.name);
    writeFileSync(path, image.bytes);
    const result = await search(['--image', path, '-k', '5', '--engine', engine]);
    expect(result.rows).toBe(IMAGES);
    expect(result.hits).toHaveLength(5);
    expect(result.hits[0]!.uri).toBe(`s3://${bucket}/src/${image.name}`);
    expect(result.hits[0]!.score).toBeCloseTo(1, 4);
    const scores = result.hits.map((hit) => hit.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
  });

  it('answers a text query with k URIs of the run, the same through every engine', async () => {
    const byEngine = await Promise.all(['cache', 'duckdb'].map((engine) => search(['--text', 'a photo of a cat', '-k', '4', '--engine', engine])));
    for (const result of byEngine) {
      expect(result.hits).toHaveLength(4);
      for (const hit of result.hits) expect(hit.uri.startsWith(`s3://${bucket}/src/img-`)).toBe(true);
    }
    expect(byEngine[1]!.hits.map((h) => h.uri)).toEqual(byEngine[0]!.hits.map((h) => h.uri));
    byEngine[1]!.hits.forEach((hit, i) => expect(hit.score).toBeCloseTo(byEngine[0]!.hits[i]!.score, 5));
  });

  it('builds the search cache on the first query of a manifest and rebuilds it when the manifest is rewritten', async () => {
    const image = images[3]!;
    const path = join(work, image.name);
    writeFileSync(path, image.bytes);
    const query = ['--image', path, '-k', '30', '--engine', 'cache'];
    interface CacheJson extends SearchJson {
      cacheBuilt: boolean;
      timings: Record<string, number>;
    }
    await search(query);
    const warm = (await search(query)) as CacheJson;
    expect(warm.cacheBuilt).toBe(false);
    expect(warm.rows).toBe(IMAGES);
    expect(warm.timings['modelMs']).toBeGreaterThanOrEqual(0);

    // The run's manifest is rewritten (as a compaction or a re-finalisation does) to list one part:
    // a query must never be answered from the copy of the old one.
    const original = (await readObject('out/r1/_manifest.json')).toString();
    const manifest = runManifestSchema.parse(JSON.parse(original));
    const [kept] = (await manifestFiles(manifest, (key) => readObject(`out/r1/${key}`))).parts;
    // Written as a schema 1 manifest (its files inline), which every reader still reads.
    const { files: _table, ...inline } = manifest;
    const rewrittenManifest = { ...inline, schemaVersion: 1, parts: [kept], errors: [], counts: { ...manifest.counts, ok: kept!.rows } };
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'out/r1/_manifest.json', Body: JSON.stringify(rewrittenManifest) }));
    try {
      const rewritten = (await search(query)) as CacheJson;
      expect(rewritten.cacheBuilt).toBe(true);
      expect(rewritten.rows).toBe(kept!.rows);
      expect(rewritten.hits).toHaveLength(kept!.rows);
      const scan = await search([...query.slice(0, -1), 'scan']);
      expect(rewritten.hits.map((hit) => hit.uri).sort()).toEqual(scan.hits.map((hit) => hit.uri).sort());
    } finally {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'out/r1/_manifest.json', Body: original }));
    }
    // Back to the original manifest: its entry, used a moment ago, was kept by the rewrite's build
    // (a search that found it may still be reading it; entries are removed once unused for an hour).
    const restored = (await search(query)) as CacheJson;
    expect(restored.cacheBuilt).toBe(false);
    expect(restored.rows).toBe(IMAGES);
    expect(restored.hits.map((hit) => hit.uri)).toEqual(warm.hits.map((hit) => hit.uri));
  });

  it('refuses a query without text or image, and a run folder without a manifest', async () => {
    const none = await runCli(['search', '--run', `s3://${bucket}/out/r1/`, '--model', TINY_MODEL], env);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/exactly one of --text or --image/);
    const missing = await runCli(['search', '--run', `s3://${bucket}/out/nope/`, '--model', TINY_MODEL, '--text', 'x'], env);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/no _manifest\.json/);
  });
});

describe('retag', () => {
  it('rescores stored embeddings against new labels without reading a single image', async () => {
    // The source images are gone: any attempt to read one would fail the command.
    await Promise.all(images.map((image) => s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `src/${image.name}` }))));
    const labelsFile = join(work, 'labels.yaml');
    writeFileSync(labelsFile, 'labels:\n  - rocket\n  - label: tree\n    threshold: 0\n  - sky\n');
    const result = await runCli(
      ['retag', '--run', `s3://${bucket}/out/r1`, '--labels-file', labelsFile, '--template', 'a picture of {}', '--out', `s3://${bucket}/out/r1-retag/`, '--model', TINY_MODEL, '--json', '--threads', '1'],
      env,
    );
    expect(result.code, result.stderr).toBe(0);

    const source = runManifestSchema.parse(JSON.parse((await readObject('out/r1/_manifest.json')).toString()));
    const retagged: RunManifest = runManifestSchema.parse(JSON.parse((await readObject('out/r1-retag/_manifest.json')).toString()));
    expect(retagged.runId).toBe('r1-retag');
    expect(retagged.labels!.map((l) => l.label)).toEqual(['rocket', 'tree', 'sky']);
    expect(retagged.templates).toEqual(['a picture of {}']);
    expect(retagged.labelsFile).toBe('labels.parquet');
    const sourceFiles = await manifestFiles(source, (key) => readObject(`out/r1/${key}`));
    const retaggedFiles = await manifestFiles(retagged, (key) => readObject(`out/r1-retag/${key}`));
    expect(retaggedFiles.parts.map((p) => [p.key, p.rows])).toEqual(sourceFiles.parts.map((p) => [p.key, p.rows]));
    expect(retaggedFiles.errors).toEqual(sourceFiles.errors);
    expect(retagged.counts).toEqual(source.counts);

    const download = async (runId: string, keys: string[]) =>
      Promise.all(
        keys.map(async (key) => {
          const path = join(work, `${runId}-${key.replaceAll('/', '_')}`);
          writeFileSync(path, await readObject(`out/${runId}/${key}`));
          return `'${path}'`;
        }),
      );
    const before = await query<{ uri: string; embedding: number[]; sha256: string }>(
      `SELECT uri, embedding, sha256 FROM read_parquet([${(await download('r1', sourceFiles.parts.map((p) => p.key))).join(',')}]) ORDER BY uri`,
    );
    const after = await query<{ uri: string; embedding: number[]; sha256: string; scores: number[]; tags: string[] }>(
      `SELECT uri, embedding, sha256, scores, tags FROM read_parquet([${(await download('r1-retag', retaggedFiles.parts.map((p) => p.key))).join(',')}]) ORDER BY uri`,
    );
    expect(after.map((r) => [r.uri, r.sha256, r.embedding])).toEqual(before.map((r) => [r.uri, r.sha256, r.embedding]));

    // Scores are what libs/model computes for these labels and template; tags follow the thresholds.
    const model = await SiglipModel.load(TINY_MODEL, { device: 'cpu', intraOpThreads: 1 });
    try {
      const scorer = await model.labelScorer(buildLabelSet(['rocket', { label: 'tree', threshold: 0 }, 'sky'], { templates: ['a picture of {}'] }));
      const expected = scorer.score(Float32Array.from(after.flatMap((r) => r.embedding)));
      after.forEach((row, i) => {
        row.scores.forEach((score, l) => expect(score).toBeCloseTo(expected[i * 3 + l]!, 5));
        expect(row.tags).toContain('tree');
        expect(row.tags).toEqual(scorer.row(expected, i).tags);
      });
    } finally {
      await model.close();
    }
    const labelsPath = join(work, 'retag-labels.parquet');
    writeFileSync(labelsPath, await readObject('out/r1-retag/labels.parquet'));
    expect(await query(`SELECT label, threshold FROM read_parquet('${labelsPath}') ORDER BY label`)).toEqual([
      { label: 'rocket', threshold: 0.1 },
      { label: 'sky', threshold: 0.1 },
      { label: 'tree', threshold: 0 },
    ]);
    expect(readFileSync(labelsFile, 'utf8')).toContain('rocket');
  });
});
