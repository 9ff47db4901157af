/**
 * `siglip-batch compact` (issue 8, "Fleet") against real Redis and moto: runs of many small
 * shards (shard size 5) made by `enqueue` and a worker, then compacted. Through the manifest,
 * DuckDB reads the same rows — every column, embeddings bit for bit — from far fewer files;
 * the old files are kept for a grace period, then deleted by a later compact; `search --image`
 * and `latest` still work. A crash between the
 * manifest's put and the deletions (injected: it cannot be made for real) leaves a readable run,
 * and a rerun finishes the job; a run that is not finalised is refused.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunManifest } from '@siglip-batch/jobs';
import { RunRegistry, compactRun, type CompactionStep } from '@siglip-batch/pipeline';
import { openRunFolder } from '@siglip-batch/run-format';
import { TINY_MODEL, runCli, startWorker, waitForRunEnd, waitForWorkerStart, type WorkerProcess } from './support/cli';
import { TEST_AWS_ENV, deleteKeysWithPrefix } from './support/harness';
import { manifestFiles, type ListedFile, type ManifestFiles } from './support/run-files';
import { BROKEN_OBJECTS, makeSampleImage, type SampleImage } from './support/sample-images';
import { SuiteWorld } from './support/suite-world';

const IMAGES = 58;
const SHARD_SIZE = 5;
const TARGET_ROWS = 20;
const world = new SuiteWorld('compact', { cache: true });
const { prefix, bucket, work, env, readObject, keysUnder, readManifest } = world;
let s3: S3Client;
let redis: Redis;
let worker: WorkerProcess;
let images: SampleImage[];
let downloads = 0;

beforeAll(async () => {
  ({ s3, redis } = await world.open());
  images = await Promise.all(Array.from({ length: IMAGES }, (_, i) => makeSampleImage(i)));
  // Broken objects spread over several shards: several errors files to merge too.
  const broken = BROKEN_OBJECTS.map((object, i) => ({ name: `img-${String(i * 15 + 3).padStart(5, '0')}-${object.name}`, bytes: object.bytes }));
  const objects = [...images.map((image) => ({ name: image.name, bytes: image.bytes })), ...broken];
  await Promise.all(objects.map((object) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: `src/${object.name}`, Body: object.bytes }))));
  worker = startWorker(['--model', TINY_MODEL, '--threads', '1', '--batch-size', '8', '--concurrency', '2'], env);
  await waitForWorkerStart(worker);
  const registry = new RunRegistry(redis, prefix);
  for (const run of ['c1', 'c2']) {
    const result = await runCli(
      ['enqueue', '--json', '--run', run, '--model', TINY_MODEL, '--labels', 'cat,dog', '--source', `s3://${bucket}/src/`, '--out', `s3://${bucket}/out/`, '--shard-size', String(SHARD_SIZE)],
      env,
    );
    expect(result.code, result.stderr).toBe(0);
  }
  for (const run of ['c1', 'c2']) expect(await waitForRunEnd(() => registry.get(run))).toBe('completed');
}, 300_000);

afterAll(() => world.close(worker));

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

interface RunTables {
  manifest: RunManifest;
  /** The files it lists (its file table). */
  files: ManifestFiles;
  parts: Array<Record<string, unknown>>;
  errors: Array<Record<string, unknown>>;
  /** File key-value metadata of the first part file, ARROW:schema aside. */
  partMetadata: Array<Record<string, unknown>>;
}

/** What a reader sees: the manifest, and DuckDB over exactly the files it lists. */
async function readRun(run: string): Promise<RunTables> {
  const manifest = await readManifest(run);
  const dir = join(work, `read-${downloads++}`);
  mkdirSync(dir, { recursive: true });
  const files = await manifestFiles(manifest, (key) => readObject(`out/${run}/${key}`));
  const fetch = (files: ListedFile[]) =>
    Promise.all(
      files.map(async (file) => {
        // Keys hold a folder (`parts/…`): one flat file name per key.
        const path = join(dir, file.key.replaceAll('/', '_'));
        writeFileSync(path, await readObject(`out/${run}/${file.key}`));
        return `'${path}'`;
      }),
    );
  const parts = await fetch(files.parts);
  const errors = await fetch(files.errors);
  return {
    manifest,
    files,
    parts: await query(`SELECT * FROM read_parquet([${parts.join(',')}]) ORDER BY uri`),
    errors: await query(`SELECT * FROM read_parquet([${errors.join(',')}]) ORDER BY uri`),
    partMetadata: await query(
      `SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata(${parts[0]}) WHERE decode(key) <> 'ARROW:schema' ORDER BY key`,
    ),
  };
}

function expectSameRows(after: RunTables, before: RunTables): void {
  expect(after.parts).toHaveLength(IMAGES);
  expect(after.errors).toHaveLength(BROKEN_OBJECTS.length);
  expect(after.parts).toEqual(before.parts);
  expect(after.errors).toEqual(before.errors);
  expect(after.partMetadata).toEqual(before.partMetadata);
  expect(after.manifest.counts).toEqual(before.manifest.counts);
}

async function latestRows(): Promise<Array<Record<string, unknown>>> {
  const result = await runCli(['latest', '--out', `s3://${bucket}/out/`, '--json'], env);
  expect(result.code, result.stderr).toBe(0);
  const pointer = JSON.parse(result.stdout) as { rows: number; files: Array<{ key: string }> };
  const dir = join(work, `latest-${downloads++}`);
  mkdirSync(dir, { recursive: true });
  const paths = await Promise.all(
    pointer.files.map(async (file, i) => {
      const path = join(dir, `${i}.parquet`);
      writeFileSync(path, await readObject(`out/${file.key}`));
      return `'${path}'`;
    }),
  );
  return query(`SELECT uri, etag, sha256, embedding, tags, run FROM read_parquet([${paths.join(',')}]) ORDER BY uri`);
}

describe('compact', () => {
  it('merges the small files of a finished run; DuckDB reads the same rows through the manifest; search and latest still work', async () => {
    const before = await readRun('c1');
    const latestBefore = await latestRows();
    expect(latestBefore).toHaveLength(IMAGES);
    expect(before.files.parts.length).toBe(Math.ceil((IMAGES + BROKEN_OBJECTS.length) / SHARD_SIZE));
    expect(before.files.errors.length).toBe(BROKEN_OBJECTS.length);

    const result = await runCli(['compact', '--run', `s3://${bucket}/out/c1/`, '--target-rows', String(TARGET_ROWS), '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as { written: number; deleted: number; kept: number; after: { parts: number; errors: number } };

    const after = await readRun('c1');
    expectSameRows(after, before);
    expect(after.files.parts.length).toBeLessThanOrEqual(Math.ceil(IMAGES / TARGET_ROWS) + 1);
    expect(after.files.errors.length).toBe(1);
    expect(summary.after).toEqual({ parts: after.files.parts.length, errors: 1 });
    // Every old file maps to the file now holding its rows; it is kept for its grace period (for
    // readers that started before), and a later compact once the grace has passed deletes it.
    const oldKeys = [...before.files.parts, ...before.files.errors].map((file) => file.key);
    expect(after.files.replaced.map((entry) => entry.key).sort()).toEqual([...oldKeys].sort());
    expect(summary).toMatchObject({ deleted: 0, kept: oldKeys.length });
    for (const key of oldKeys) expect(await keysUnder(`out/c1/${key}`)).toEqual([`out/c1/${key}`]);
    // The new manifest names a new file table; the old one is kept for readers of the old manifest.
    expect(after.manifest.files!.key).not.toBe(before.manifest.files!.key);
    expect(await keysUnder(`out/c1/${before.manifest.files!.key}`)).toHaveLength(1);
    const cleanup = await runCli(['compact', '--run', `s3://${bucket}/out/c1/`, '--target-rows', String(TARGET_ROWS), '--grace-seconds', '0', '--json'], env);
    expect(cleanup.code, cleanup.stderr).toBe(0);
    expect(JSON.parse(cleanup.stdout)).toMatchObject({ written: 0, deleted: oldKeys.length, kept: 0 });
    expect(await readManifest('c1')).toEqual(after.manifest);
    const stored = await keysUnder('out/c1/');
    for (const key of oldKeys) expect(stored).not.toContain(`out/c1/${key}`);
    expect(stored).not.toContain(`out/c1/${before.manifest.files!.key}`);
    expect(stored).toContain(`out/c1/${after.manifest.files!.key}`);
    for (const file of [...after.files.parts, ...after.files.errors]) expect(stored).toContain(`out/c1/${file.key}`);

    // search --image finds the image among the merged files.
    const image = images[17]!;
    const path = join(work, image.name);
    writeFileSync(path, image.bytes);
    for (const engine of ['cache', 'duckdb']) {
      const search = await runCli(['search', '--run', `s3://${bucket}/out/c1/`, '--model', TINY_MODEL, '--image', path, '-k', '3', '--json', '--threads', '1', '--engine', engine], env);
      expect(search.code, search.stderr).toBe(0);
      const hits = (JSON.parse(search.stdout) as { rows: number; hits: Array<{ uri: string }> });
      expect(hits.rows).toBe(IMAGES);
      expect(hits.hits[0]!.uri).toBe(`s3://${bucket}/src/${image.name}`);
    }
    // latest follows the processed index's (old) file names through the manifest.
    expect(await latestRows()).toEqual(latestBefore);

    // Again: nothing left to do, nothing changes.
    const again = await runCli(['compact', '--run', `s3://${bucket}/out/c1/`, '--target-rows', String(TARGET_ROWS), '--json'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ written: 0, deleted: 0 });
    expect(await readManifest('c1')).toEqual(after.manifest);
  });

  it('a crash after the files or after the manifest leaves a readable run; a rerun finishes and deletes the old files', async () => {
    for (const [name, value] of Object.entries(TEST_AWS_ENV)) vi.stubEnv(name, value);
    const before = await readRun('c2');
    // c2 is the newest run: `latest` reads its files, through the index's old names.
    const latestBefore = await latestRows();
    expect(new Set(latestBefore.map((row) => row['run']))).toEqual(new Set(['c2']));
    const crashAt = (step: CompactionStep) => async (reached: CompactionStep) => {
      if (reached === step) throw new Error(`simulated crash at ${step}`);
    };
    const compact = async (afterStep?: (step: CompactionStep) => Promise<void>) => {
      const folder = openRunFolder(`s3://${bucket}/out/c2/`, { endpoint: world.s3Endpoint });
      try {
        // Grace 0: the old files go as soon as the manifest no longer lists them (the grace
        // period itself is covered above and in run-compactor.spec.ts).
        return await compactRun({ folder, targetRows: TARGET_ROWS, graceMs: 0, ...(afterStep ? { afterStep } : {}) });
      } finally {
        folder.store.close();
      }
    };
    try {
      // Merged files written, manifest not yet: readers still see the old files, all there.
      await expect(compact(crashAt('files-written'))).rejects.toThrow('simulated crash at files-written');
      const crashedEarly = await readRun('c2');
      expect(crashedEarly.manifest).toEqual(before.manifest);
      expectSameRows(crashedEarly, before);

      // Manifest switched, old files not deleted yet: readers see the merged files.
      await expect(compact(crashAt('manifest-written'))).rejects.toThrow('simulated crash at manifest-written');
      const crashedLate = await readRun('c2');
      expect(crashedLate.files.parts.length).toBeLessThan(before.files.parts.length);
      expectSameRows(crashedLate, before);
      const newKeys = new Set([...crashedLate.files.parts, ...crashedLate.files.errors].map((file) => file.key));
      const oldKeys = [...before.files.parts, ...before.files.errors].map((file) => file.key).filter((key) => !newKeys.has(key));
      expect(oldKeys.length).toBeGreaterThan(before.files.parts.length);
      const leftover = await keysUnder('out/c2/');
      for (const key of oldKeys) expect(leftover).toContain(`out/c2/${key}`);

      // The rerun writes nothing new and deletes what the crash left.
      const rerun = await compact();
      expect(rerun.written).toBe(0);
      expect(rerun.deleted).toBe(oldKeys.length);
      const stored = await keysUnder('out/c2/');
      for (const key of oldKeys) expect(stored).not.toContain(`out/c2/${key}`);
      const finished = await readRun('c2');
      expect(finished.files.parts).toEqual(crashedLate.files.parts);
      expectSameRows(finished, before);
      // The first crash's files were overwritten by the second attempt, not left behind.
      const merged = stored.filter((key) => /\/(part|errors)-c[0-9a-f]{12}-\d{5}\.parquet$/.test(key));
      expect(merged.length).toBe(finished.files.parts.length + finished.files.errors.length);
      expect(await latestRows()).toEqual(latestBefore);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('refuses a run that is not finalised', async () => {
    // A run planned under another prefix, which no worker serves: plans, no manifest.
    const result = await runCli(
      ['enqueue', '--json', '--run', 'unfinished', '--model', TINY_MODEL, '--source', `s3://${bucket}/src/`, '--out', `s3://${bucket}/out/`, '--shard-size', String(SHARD_SIZE)],
      { ...env, SIGLIP_BATCH_PREFIX: `${prefix}-idle` },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(await keysUnder('out/unfinished/_manifest.json')).toEqual([]);
    const compact = await runCli(['compact', '--run', `s3://${bucket}/out/unfinished/`], env);
    expect(compact.code).not.toBe(0);
    expect(compact.stderr).toMatch(/out\/unfinished\/ has no _manifest\.json: the run is not finalised/);
    await deleteKeysWithPrefix(redis, `${prefix}-idle`);
  });
});
