/**
 * Hardening probes (issue 12, "run states"), against real Redis, moto and worker processes:
 *
 * - `cancel` of a completed run is refused (exit ≠ 0, the state names why) and touches nothing;
 * - `cancel` while the run finalises (the worker waits before its commit point:
 *   SIGLIP_BATCH_TEST_FINALIZE_DELAY_MS) wins: the finaliser stops, no `_manifest.json`, state
 *   `cancelled` — the state and the manifest always agree, in Redis and, once Redis forgot the
 *   run, in the store;
 * - `compact` beside `search`, `latest` and `retag` loops, each compaction deleting the replaced
 *   files at once (`--grace-seconds 0`, the hardest case): every reader exits 0 with the results
 *   it had before; a reader holding a manifest from before a compaction re-reads it and retries.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { collectRunFiles, openRunFolder } from '@siglip-batch/run-format';
import { finalizeJobId, runDoneBitmapKey, runFailedKey, runManifestSchema, runRecordKey, type RunManifest } from '@siglip-batch/jobs';
import { RunRegistry, compactRun } from '@siglip-batch/pipeline';
import { searchRun, type SearchEngine } from '@siglip-batch/retrieval';
import { manifestFiles } from './support/run-files';
import { probe } from './support/hardening-report';
import { TINY_MODEL, runCli, startWorker, waitForQueueAtRest, waitForRunEnd, waitForWorkerStart, type CliResult, type WorkerProcess } from './support/cli';
import { TEST_AWS_ENV } from './support/harness';
import { SuiteWorld } from './support/suite-world';
import { makeSampleImage, type SampleImage } from './support/sample-images';

const AREA = 'run states';
const FINALIZE_DELAY_MS = 10_000;
const world = new SuiteWorld('states', { cache: true });
const { prefix, bucket, work, env, readObject, exists, readManifest } = world;
const OUT = `s3://${bucket}/out/`;

let s3: S3Client;
let redis: Redis;
let registry: RunRegistry;
let images: SampleImage[];
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  ({ s3, redis } = await world.open());
  registry = new RunRegistry(redis, prefix);
  images = await Promise.all(Array.from({ length: 30 }, (_, i) => makeSampleImage(700 + i)));
  await Promise.all(images.map((image) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: `src/${image.name}`, Body: image.bytes }))));
}, 120_000);

afterAll(() => world.close(worker));

/** `code`: the exit code, which tells how the run ended (5 cancelled, 0 completed or not over yet). */
async function statusJson(runId: string, extra: string[] = [], code = 0): Promise<{ state: string; reason: string | null; source: string }> {
  const result = await runCli(['status', runId, '--json', ...extra], env);
  expect(result.code, result.stderr).toBe(code);
  return JSON.parse(result.stdout) as { state: string; reason: string | null; source: string };
}

async function enqueue(runId: string): Promise<CliResult> {
  return runCli(['enqueue', '--run', runId, '--source', `s3://${bucket}/src/`, '--out', OUT, '--model', TINY_MODEL, '--shard-size', '10'], env);
}

/** What expiry does to a run's records in Redis. */
async function forget(runId: string): Promise<void> {
  await redis.del(runRecordKey(prefix, runId), runDoneBitmapKey(prefix, runId), runFailedKey(prefix, runId));
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

describe('run states', () => {
  beforeAll(async () => {
    worker = startWorker(['--model', TINY_MODEL, '--threads', '1', '--batch-size', '8', '--concurrency', '2'], {
      ...env,
      SIGLIP_BATCH_TEST_FINALIZE_DELAY_MS: String(FINALIZE_DELAY_MS),
    });
    await waitForWorkerStart(worker);
  }, 120_000);

  it('refuses to cancel a completed run: nothing removed, still completed, manifest in place', async () => {
    await probe(AREA, 'cancel on a completed run', 'refused (exit ≠ 0, names the state); stays completed; manifest kept; no job removed', async () => {
      const enqueued = await enqueue('done');
      expect(enqueued.code, enqueued.stderr).toBe(0);
      expect(await waitForRunEnd(() => registry.get('done'))).toBe('completed');
      const queue = new Queue((await registry.get('done'))!.queue, { connection: redis, prefix });
      try {
        // Jobs the finaliser queued after the manifest (index-partition merges) finish first.
        await waitForQueueAtRest(queue);
        const before = await queue.getJobCounts('completed', 'waiting', 'delayed', 'prioritized', 'active', 'failed');
        const cancel = await runCli(['cancel', 'done'], env);
        expect(cancel.code).not.toBe(0);
        expect(cancel.stderr).toContain('run done is completed: a completed run cannot be cancelled (its manifest is written): nothing was cancelled');
        expect(cancel.stdout).not.toMatch(/removed/);
        expect(await queue.getJobCounts('completed', 'waiting', 'delayed', 'prioritized', 'active', 'failed')).toEqual(before);
        expect(await statusJson('done')).toMatchObject({ state: 'completed', reason: null });
        expect(await exists('out/done/_manifest.json')).toBe(true);
        expect(await exists('out/done/_cancelled.json')).toBe(false);
        return `exit ${cancel.code}: "${firstLine(cancel.stderr)}"; status completed, manifest present, ${before['completed']} finished jobs kept`;
      } finally {
        await queue.close();
      }
    });
  }, 240_000);

  it('a cancel during finalisation wins: the finaliser stops before the manifest, and the run stays cancelled', async () => {
    await probe(
      AREA,
      'cancel while the run finalises (before the manifest put)',
      'cancel wins: state cancelled, reason "cancelled by user", no _manifest.json; enqueue again refused',
      async () => {
        const enqueued = await enqueue('fin');
        expect(enqueued.code, enqueued.stderr).toBe(0);
        // The finaliser now waits FINALIZE_DELAY_MS before its commit point.
        const deadline = Date.now() + 120_000;
        while ((await registry.get('fin'))?.state !== 'finalizing') {
          expect(Date.now(), 'the run never reached finalizing').toBeLessThan(deadline);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const cancel = await runCli(['cancel', 'fin'], env);
        expect(cancel.code, cancel.stderr).toBe(0);
        // Every shard had finished: nothing was waiting.
        expect(cancel.stdout).toMatch(/run fin cancelled: 0 queued shard\(s\) removed/);
        // The finaliser reaches its commit point, is refused, and ends its job without a manifest.
        const queue = new Queue((await registry.get('fin'))!.queue, { connection: redis, prefix });
        let finalised: unknown;
        try {
          const job = (await queue.getJob(finalizeJobId('fin')))!;
          while (!(await job.isCompleted())) {
            expect(Date.now(), 'the finalise job never ended').toBeLessThan(deadline + FINALIZE_DELAY_MS);
            await new Promise((resolve) => setTimeout(resolve, 250));
          }
          finalised = (await queue.getJob(finalizeJobId('fin')))!.returnvalue;
        } finally {
          await queue.close();
        }
        expect(finalised).toEqual({ runId: 'fin', state: 'cancelled' });
        expect(worker!.log()).toContain('run fin is cancelled: its manifest is not written');
        expect(await statusJson('fin', [], 5)).toMatchObject({ state: 'cancelled', reason: 'cancelled by user' });
        expect(await exists('out/fin/_manifest.json')).toBe(false);
        expect(await exists('out/fin/_cancelled.json')).toBe(true);
        const again = await enqueue('fin');
        expect(again.code).not.toBe(0);
        expect(again.stderr).toMatch(/run fin is cancelled/);
        return `cancel exit 0 ("${firstLine(cancel.stdout)}"); finalise job returned ${JSON.stringify(finalised)}; status cancelled; no manifest; re-enqueue exit ${again.code}`;
      },
    );
  }, 240_000);

  it('once Redis forgot the runs, status reads them from the store and agrees; cancel refuses', async () => {
    await probe(
      AREA,
      'status / cancel after the run records expired',
      'status --out: completed (manifest) and cancelled (marker), from the store; cancel: not known, exit 1, manifest kept',
      async () => {
        await forget('done');
        await forget('fin');
        const unknown = await runCli(['status', 'done'], env);
        expect(unknown.code).toBe(1);
        expect(unknown.stderr).toMatch(/run done is not known to Redis .*pass --out/);
        const done = await statusJson('done', ['--out', OUT]);
        expect(done).toMatchObject({ state: 'completed', source: 'store' });
        const fin = await statusJson('fin', ['--out', OUT], 5);
        expect(fin).toMatchObject({ state: 'cancelled', source: 'store' });
        expect(fin.reason).toMatch(/^cancelled by user at \d{4}-/);
        const cancel = await runCli(['cancel', 'done'], env);
        expect(cancel.code).toBe(1);
        expect(cancel.stderr).toMatch(/run done is not known to Redis: nothing to cancel/);
        expect(await exists('out/done/_manifest.json')).toBe(true);
        // Enqueuing the cancelled run again is refused from its folder alone.
        const again = await enqueue('fin');
        expect(again.code).not.toBe(0);
        expect(again.stderr).toMatch(/run fin is cancelled \(/);
        return `status --out: done=${done.state}, fin=${fin.state} (source store); cancel exit ${cancel.code}; re-enqueue of fin exit ${again.code}`;
      },
    );
  }, 120_000);
});

describe('compact beside readers', () => {
  const RUN = `s3://${bucket}/out/many/`;
  const queryImage = () => {
    const path = join(work, 'query.png');
    writeFileSync(path, images[7]!.bytes);
    return path;
  };
  let downloads = 0;

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

  async function search(): Promise<CliResult> {
    return runCli(['search', '--run', RUN, '--model', TINY_MODEL, '--image', queryImage(), '-k', '12', '--json', '--threads', '1', '--scan-threads', '1'], env);
  }

  /** `latest`, then its rows read back with DuckDB (its files are replaced by the next `latest`). */
  async function latest(): Promise<{ result: CliResult; rows: unknown[] }> {
    const result = await runCli(['latest', '--out', OUT, '--json'], env);
    if (result.code !== 0) return { result, rows: [] };
    const pointer = JSON.parse(result.stdout) as { files: Array<{ key: string }> };
    const dir = join(work, `latest-${downloads++}`);
    mkdirSync(dir, { recursive: true });
    const paths = await Promise.all(
      pointer.files.map(async (file, i) => {
        const path = join(dir, `${i}.parquet`);
        writeFileSync(path, await readObject(`out/${file.key}`));
        return `'${path}'`;
      }),
    );
    return { result, rows: await query(`SELECT uri, sha256, embedding, tags, run FROM read_parquet([${paths.join(',')}]) ORDER BY uri`) };
  }

  async function retag(n: number): Promise<{ result: CliResult; manifest?: RunManifest }> {
    const labelsFile = join(work, 'labels.txt');
    writeFileSync(labelsFile, 'red\nblue\n');
    const result = await runCli(['retag', '--run', RUN, '--labels-file', labelsFile, '--out', `${OUT}many-rt-${n}/`, '--model', TINY_MODEL, '--json', '--threads', '1'], env);
    if (result.code !== 0) return { result };
    return { result, manifest: runManifestSchema.parse((JSON.parse(result.stdout) as { manifest: unknown }).manifest) };
  }

  const hitsOf = (result: CliResult) => (JSON.parse(result.stdout) as { hits: Array<{ uri: string; score: number }> }).hits;
  const sameHits = (a: Array<{ uri: string; score: number }>, b: Array<{ uri: string; score: number }>) => {
    expect(a.map((hit) => hit.uri)).toEqual(b.map((hit) => hit.uri));
    a.forEach((hit, i) => expect(hit.score).toBeCloseTo(b[i]!.score, 6));
  };

  let baseline: { hits: Array<{ uri: string; score: number }>; latest: unknown[]; retag: RunManifest };

  beforeAll(async () => {
    // Many small parts (shard size 2), with labels; `embed` also adds the run to the processed index.
    const embedded = await runCli(
      ['embed', '--source', `s3://${bucket}/src/`, '--out', OUT, '--model', TINY_MODEL, '--run', 'many', '--labels', 'cat,dog', '--shard-size', '2', '--threads', '1'],
      env,
    );
    expect(embedded.code, embedded.stderr).toBe(0);
    const searched = await search();
    expect(searched.code, searched.stderr).toBe(0);
    const latestRows = await latest();
    expect(latestRows.result.code, latestRows.result.stderr).toBe(0);
    const retagged = await retag(0);
    expect(retagged.result.code, retagged.result.stderr).toBe(0);
    baseline = { hits: hitsOf(searched), latest: latestRows.rows, retag: retagged.manifest! };
  }, 300_000);

  it('a reader holding the manifest from before a compaction that deleted its files at once re-reads it and gets the same answer', async () => {
    await probe(
      AREA,
      'search with a manifest read before compact --grace-seconds 0',
      'the listed files are gone: the reader re-reads the manifest, retries once, same top-k (cache, scan, duckdb)',
      async () => {
        // In this process: the test's AWS credentials for the S3 client.
        for (const [name, value] of Object.entries(TEST_AWS_ENV)) vi.stubEnv(name, value);
        const folder = openRunFolder(RUN, { endpoint: world.s3Endpoint });
        try {
          const stale = (await folder.readManifest())!;
          // Its files, read before the compaction deletes its table with them (grace 0).
          const staleFiles = await manifestFiles(stale, (key) => readObject(`out/many/${key}`));
          const query = new Float32Array(stale.embeddingDim).fill(1 / Math.sqrt(stale.embeddingDim));
          const engines: SearchEngine[] = ['cache', 'scan', 'duckdb'];
          const before = await Promise.all(engines.map((engine) => searchRun({ folder, manifest: stale, query, k: 10, engine, cacheRoot: join(work, 'cache-a') })));
          const compacted = await compactRun({ folder, targetRows: 4, graceMs: 0 });
          const current = (await folder.readManifest())!;
          const listed = new Set((await collectRunFiles(folder, current, { kind: ['part', 'errors'] })).map((file) => file.key));
          expect(compacted.deleted).toBe([...staleFiles.parts, ...staleFiles.errors].filter((file) => !listed.has(file.key)).length);
          expect(compacted.deleted).toBeGreaterThan(0);
          expect(await exists(`out/many/${staleFiles.parts[0]!.key}`)).toBe(false);
          for (const [i, engine] of engines.entries()) {
            const after = await searchRun({ folder, manifest: stale, query, k: 10, engine, cacheRoot: join(work, 'cache-b') });
            sameHits(after.hits, before[i]!.hits);
          }
          return `compaction deleted ${compacted.deleted} files (${staleFiles.parts.length} → ${compacted.after.parts} parts); cache, scan and duckdb searches with the old manifest: same top-10`;
        } finally {
          folder.store.close();
          vi.unstubAllEnvs();
        }
      },
    );
  }, 240_000);

  it('search, latest and retag running beside compactions that delete at once all succeed with the same results', async () => {
    await probe(
      AREA,
      'compact --grace-seconds 0 ×4 beside search / latest / retag loops',
      'every reader exits 0 with the same results as before; no WebAssembly RuntimeError',
      async () => {
        let compacting = true;
        const compactions: CliResult[] = [];
        const compactor = (async () => {
          try {
            for (const target of [8, 16, 32, 64]) {
              compactions.push(await runCli(['compact', '--run', RUN, '--target-rows', String(target), '--grace-seconds', '0', '--json'], env));
              // Each compaction lands while the readers are somewhere in their work.
              await new Promise((resolve) => setTimeout(resolve, 1500));
            }
          } finally {
            compacting = false;
          }
        })();
        // Each loop runs until the compactions are done, and at least twice.
        const loop = async <T>(body: (n: number) => Promise<T>): Promise<T[]> => {
          const results: T[] = [];
          for (let n = 1; compacting || results.length < 2; n++) results.push(await body(n));
          return results;
        };
        const [searches, latests, retags] = await Promise.all([loop(() => search()), loop(() => latest()), loop((n) => retag(n)), compactor]);
        for (const compaction of compactions) expect(compaction.code, compaction.stderr).toBe(0);
        const written = compactions.filter((c) => (JSON.parse(c.stdout) as { written: number }).written > 0).length;
        expect(written, 'the compactions changed the manifest').toBeGreaterThanOrEqual(3);
        const outputs = [...searches, ...latests.map((l) => l.result), ...retags.map((r) => r.result)];
        for (const output of outputs) expect(`${output.stdout}${output.stderr}`).not.toMatch(/RuntimeError|unreachable/);
        for (const result of searches) {
          expect(result.code, result.stderr).toBe(0);
          sameHits(hitsOf(result), baseline.hits);
        }
        for (const { result, rows } of latests) {
          expect(result.code, result.stderr).toBe(0);
          expect(rows).toEqual(baseline.latest);
        }
        const partRows = async (n: number, manifest: RunManifest) =>
          (await manifestFiles(manifest, (key) => readObject(`out/many-rt-${n}/${key}`))).parts.reduce((sum, p) => sum + p.rows, 0);
        const baselineRows = await partRows(0, baseline.retag);
        for (const [i, { result, manifest }] of retags.entries()) {
          expect(result.code, result.stderr).toBe(0);
          expect(manifest!.counts).toEqual(baseline.retag.counts);
          // The retag loop's n starts at 1: its run is many-rt-<n>.
          expect(await partRows(i + 1, manifest!)).toBe(baselineRows);
        }
        const final = await readManifest('many');
        return (
          `${written} of ${compactions.length} compactions switched the manifest (${final.files!.parts} part file(s) now); ` +
          `${searches.length}/${searches.length} searches, ${latests.length}/${latests.length} latest, ${retags.length}/${retags.length} retag exited 0 with the baseline's results`
        );
      },
    );
  }, 900_000);
});
