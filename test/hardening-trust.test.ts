/**
 * Hardening probes, trust boundaries (issue 12, item 2): what a manifest in S3, a run spec and a
 * symlink can make a worker read. A real worker process, moto S3, real Redis, and a private file
 * on the worker's own disk (also in its working directory, where relative lines used to resolve).
 *
 * Phase 1, a worker without --allow: an S3 manifest naming local files (absolute, file://,
 * relative), a relative S3 line, another bucket, another folder of its own bucket, a relative
 * `../` line; and a run whose source is a local directory. Phase 2, a worker with
 * `--allow s3://<bucket>/img/,<local source>`: keys holding `..`, and a symlink out of the
 * local source. Every row is checked in the output Parquet (DuckDB), the private file's sha256
 * never appears in any output, and every run completes.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runManifestSchema } from '@siglip-batch/jobs';
import { RunRegistry } from '@siglip-batch/pipeline';
import { manifestFiles } from './support/run-files';
import { TINY_MODEL, runCli, startWorker, waitForRunEnd, waitForWorkerStart, type WorkerProcess } from './support/cli';
import { duck, sqlFiles } from './support/fault-checks';
import { probe } from './support/hardening-report';
import { TEST_AWS_ENV, deleteKeysWithPrefix, emptyAndDeleteBucket, makeS3Client, uniqueName } from './support/harness';
import { makeSampleImage } from './support/sample-images';

const s3Endpoint = inject('s3Endpoint');
const redisUrl = inject('redisUrl');
const prefix = uniqueName('trust');
const bucket = uniqueName('trust').toLowerCase();
const otherBucket = uniqueName('trust-other').toLowerCase();
const work = mkdtempSync(join(tmpdir(), 'siglip-trust-'));
const privateDir = join(work, 'home-app');
const privatePath = join(privateDir, 'private.png');
const localSource = join(work, 'local-src');
const env: NodeJS.ProcessEnv = { ...process.env, ...TEST_AWS_ENV, AWS_ENDPOINT_URL_S3: s3Endpoint, REDIS_URL: redisUrl, SIGLIP_BATCH_PREFIX: prefix };

let s3: S3Client;
let redis: Redis;
let registry: RunRegistry;
let worker: WorkerProcess | undefined;
const workerLogs: Array<() => string> = [];
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
/** sha256 of objects that must never be read: the private file, and what `..` would reach if it were a step up. */
const forbidden: Record<string, string> = {};
const literalSha: Record<string, string> = {};

interface Outcome {
  state: string;
  rows: Map<string, { code: string; error: string } | { sha256: string }>;
}
const outcomes = new Map<string, Outcome>();

async function put(bucketName: string, key: string, bytes: Buffer | string): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucketName, Key: key, Body: bytes }));
}

async function download(key: string): Promise<string> {
  const path = join(work, 'download', key.replaceAll('/', '_'));
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  writeFileSync(path, await response.Body!.transformToByteArray());
  return path;
}

/** Enqueues a run, waits for its end, reads every row of the files its manifest lists. */
async function run(runId: string, source: string): Promise<void> {
  const enqueued = await runCli(['enqueue', '--json', '--run', runId, '--source', source, '--out', `s3://${bucket}/out/`, '--model', TINY_MODEL, '--shard-size', '4'], env);
  expect(enqueued.code, enqueued.stderr).toBe(0);
  const state = await waitForRunEnd(() => registry.get(runId), 180_000);
  const rows: Outcome['rows'] = new Map();
  if (state === 'completed') {
    const manifest = runManifestSchema.parse(JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `out/${runId}/_manifest.json` }))).Body!.transformToString()));
    const listed = await manifestFiles(manifest, async (key) => (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `out/${runId}/${key}` }))).Body!.transformToByteArray());
    const parts = await Promise.all(listed.parts.map((part) => download(`out/${runId}/${part.key}`)));
    const errors = await Promise.all(listed.errors.map((file) => download(`out/${runId}/${file.key}`)));
    if (parts.length > 0) for (const row of await duck<{ uri: string; sha256: string }>(`SELECT uri, sha256 FROM read_parquet(${sqlFiles(parts)})`)) rows.set(row.uri, { sha256: row.sha256 });
    if (errors.length > 0) {
      for (const row of await duck<{ uri: string; error_code: string; error: string }>(`SELECT uri, error_code, error FROM read_parquet(${sqlFiles(errors)})`)) {
        rows.set(row.uri, { code: row.error_code, error: row.error });
      }
    }
  }
  outcomes.set(runId, { state, rows });
}

async function startTrustWorker(allow: string[]): Promise<void> {
  // The private file's folder is the worker's working directory: a relative line resolved
  // against it (as it once was) would read the private file.
  worker = startWorker(['--model', TINY_MODEL, '--threads', '1', '--batch-size', '8', '--concurrency', '1', ...allow], env, privateDir);
  workerLogs.push(worker.log);
  await waitForWorkerStart(worker);
}

/** One row's outcome as a short text for the probe table, e.g. `not_allowed` or `embedded (sha 1a2b3c4d)`. */
function rowOf(runId: string, uri: string): string {
  const outcome = outcomes.get(runId);
  expect(outcome?.state, `run ${runId}`).toBe('completed');
  const row = outcome!.rows.get(uri);
  expect(row, `${runId}: a row for ${uri} (rows: ${[...outcome!.rows.keys()].join(', ')})`).toBeDefined();
  return 'sha256' in row! ? `embedded (sha ${row.sha256.slice(0, 8)})` : row!.code;
}

function errorOf(runId: string, uri: string): string {
  const row = outcomes.get(runId)!.rows.get(uri)!;
  return 'error' in row ? row.error : '';
}

beforeAll(async () => {
  s3 = makeS3Client(s3Endpoint);
  redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  registry = new RunRegistry(redis, prefix);
  mkdirSync(privateDir, { recursive: true });
  mkdirSync(localSource, { recursive: true });
  mkdirSync(join(work, 'download'), { recursive: true });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new CreateBucketCommand({ Bucket: otherBucket }));
  const images = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((i) => makeSampleImage(i * 11)));
  const [privateImage, relativeImage, otherImage, literalImage, normalisedImage, secretImage, localImage] = images.map((image) => image.bytes) as Buffer[];

  writeFileSync(privatePath, privateImage!);
  forbidden['private file'] = sha(privateImage!);
  await put(bucket, 'lists/img/a.png', relativeImage!);
  await put(otherBucket, 'o.png', otherImage!);
  forbidden['other bucket'] = sha(otherImage!);
  // One key holding `..` and the key it would be if `..` were a step up: different images.
  await put(bucket, 'img/sub/../x.png', literalImage!);
  literalSha['img/sub/../x.png'] = sha(literalImage!);
  await put(bucket, 'img/x.png', normalisedImage!);
  forbidden['img/x.png'] = sha(normalisedImage!);
  await put(bucket, 'secret/s.png', secretImage!);
  forbidden['secret'] = sha(secretImage!);
  writeFileSync(join(localSource, 'good.png'), localImage!);
  symlinkSync(privatePath, join(localSource, 'escape.png'));

  await put(
    bucket,
    'lists/m.txt',
    [privatePath, pathToFileURL(privatePath).href, 'private.png', 'img/a.png', `s3://${otherBucket}/o.png`, `s3://${bucket}/img/x.png`, '../secret/s.png'].join('\n'),
  );
  await put(bucket, 'lists/dots.txt', [`s3://${bucket}/img/sub/../x.png`, `s3://${bucket}/img/../secret/s.png`].join('\n'));

  // Phase 1: a worker without --allow.
  await startTrustWorker([]);
  await run('trust-manifest', `s3://${bucket}/lists/m.txt`);
  await run('trust-local-default', localSource);
  await worker!.stop();
  // Phase 2: a worker allowed one S3 folder and the local source.
  await startTrustWorker(['--allow', `s3://${bucket}/img/,${localSource}`]);
  await run('trust-dots', `s3://${bucket}/lists/dots.txt`);
  await run('trust-symlink', localSource);
}, 420_000);

afterAll(async () => {
  await worker?.stop();
  await emptyAndDeleteBucket(s3, bucket).catch(() => undefined);
  await emptyAndDeleteBucket(s3, otherBucket).catch(() => undefined);
  await deleteKeysWithPrefix(redis, prefix).catch(() => undefined);
  redis.disconnect();
  s3.destroy();
  rmSync(work, { recursive: true, force: true });
});

describe('trust: a manifest in S3, read by a worker without --allow', () => {
  it('an absolute path to a file on the worker is an invalid_uri row', async () => {
    await probe('trust', 'S3 manifest line /abs/private.png (worker without --allow)', 'invalid_uri row, file never read', async () => {
      expect(rowOf('trust-manifest', privatePath)).toBe('invalid_uri');
      expect(errorOf('trust-manifest', privatePath)).toMatch(/names only s3:\/\/ objects/);
      return `${rowOf('trust-manifest', privatePath)} ("a manifest in S3 … names only s3:// objects")`;
    });
  });

  it('a file:// URI is an invalid_uri row', async () => {
    const uri = pathToFileURL(privatePath).href;
    await probe('trust', 'S3 manifest line file:///…/private.png', 'invalid_uri row, file never read', async () => {
      expect(rowOf('trust-manifest', uri)).toBe('invalid_uri');
      return rowOf('trust-manifest', uri);
    });
  });

  it("a relative line resolves against the manifest's folder, not the worker's working directory", async () => {
    const uri = `s3://${bucket}/lists/private.png`;
    await probe('trust', "S3 manifest relative line private.png (the worker's cwd holds private.png)", 's3://<b>/lists/private.png: not_found', async () => {
      expect(rowOf('trust-manifest', uri)).toBe('not_found');
      return `${uri.replace(bucket, '<b>')}: ${rowOf('trust-manifest', uri)}`;
    });
  });

  it('a relative S3 line is read from the folder the manifest is in', async () => {
    const uri = `s3://${bucket}/lists/img/a.png`;
    await probe('trust', 'S3 manifest relative line img/a.png', 's3://<b>/lists/img/a.png embedded', async () => {
      expect(rowOf('trust-manifest', uri)).toMatch(/^embedded/);
      return `${uri.replace(bucket, '<b>')}: ${rowOf('trust-manifest', uri)}`;
    });
  });

  it("another bucket the worker's credentials reach is not_allowed", async () => {
    const uri = `s3://${otherBucket}/o.png`;
    await probe('trust', "S3 manifest line in another bucket the worker's credentials reach", 'not_allowed row naming --allow', async () => {
      expect(rowOf('trust-manifest', uri)).toBe('not_allowed');
      expect(errorOf('trust-manifest', uri)).toMatch(/start the workers with --allow/);
      return `${rowOf('trust-manifest', uri)} (message says: start the workers with --allow …)`;
    });
  });

  it('another folder of the manifest’s own bucket needs --allow', async () => {
    const uri = `s3://${bucket}/img/x.png`;
    await probe('trust', "S3 manifest line outside the manifest's folder, same bucket", 'not_allowed row naming --allow', async () => {
      expect(rowOf('trust-manifest', uri)).toBe('not_allowed');
      expect(errorOf('trust-manifest', uri)).toMatch(/--allow/);
      return `${rowOf('trust-manifest', uri)} (message names --allow)`;
    });
  });

  it('a relative ../ line is a literal key under the manifest’s folder', async () => {
    const uri = `s3://${bucket}/lists/../secret/s.png`;
    await probe('trust', 'S3 manifest relative line ../secret/s.png', 'literal key lists/../secret/s.png: not_found; secret/s.png never read', async () => {
      expect(rowOf('trust-manifest', uri)).toBe('not_found');
      return `${rowOf('trust-manifest', uri)}; run ${outcomes.get('trust-manifest')!.state}`;
    });
  });

  it('a run whose source is a local directory reads nothing of the worker’s disk without --allow', async () => {
    await probe('trust', 'run with a local-directory source, worker without --allow', 'every object a not_allowed row; run completed', async () => {
      const outcome = outcomes.get('trust-local-default')!;
      expect(outcome.state).toBe('completed');
      const codes = [...outcome.rows.values()].map((row) => ('code' in row ? row.code : 'embedded'));
      expect(codes).toEqual(['not_allowed', 'not_allowed']);
      return `${codes.length} rows: ${[...new Set(codes)].join(', ')}; run ${outcome.state}`;
    });
  });
});

describe('trust: a worker with --allow s3://<b>/img/,<local source>', () => {
  it('an S3 key holding .. is read as the literal key it is', async () => {
    const uri = `s3://${bucket}/img/sub/../x.png`;
    await probe('trust', 's3://<b>/img/sub/../x.png under --allow s3://<b>/img/', 'embedded from the literal key (not img/x.png), shard not failed', async () => {
      const row = outcomes.get('trust-dots')!.rows.get(uri);
      expect(rowOf('trust-dots', uri)).toMatch(/^embedded/);
      expect(row).toEqual({ sha256: literalSha['img/sub/../x.png'] });
      return `${rowOf('trust-dots', uri)} = sha of img/sub/../x.png`;
    });
  });

  it('a key climbing out with .. reads the literal key, never the folder it would climb to', async () => {
    const uri = `s3://${bucket}/img/../secret/s.png`;
    await probe('trust', 's3://<b>/img/../secret/s.png under --allow s3://<b>/img/', 'literal key: not_found; secret/s.png never read', async () => {
      expect(rowOf('trust-dots', uri)).toBe('not_found');
      return rowOf('trust-dots', uri);
    });
  });

  it('a symlink in the allowed local source that leads to a private file is not_allowed; the other file embeds', async () => {
    const escape = pathToFileURL(join(localSource, 'escape.png')).href;
    const good = pathToFileURL(join(localSource, 'good.png')).href;
    await probe('trust', 'symlink in an allowed local dir -> private file outside it', 'not_allowed row (real path named); other objects embedded', async () => {
      expect(rowOf('trust-symlink', escape)).toBe('not_allowed');
      expect(errorOf('trust-symlink', escape)).toContain(`really ${pathToFileURL(privatePath).href}`);
      expect(rowOf('trust-symlink', good)).toMatch(/^embedded/);
      return `escape.png ${rowOf('trust-symlink', escape)}, good.png ${rowOf('trust-symlink', good)}`;
    });
  });
});

describe('trust: a local manifest in one-process mode (embed)', () => {
  it('an absolute line is that file on the reading machine, read only under the source folder or --allow', async () => {
    await probe(
      'trust',
      'local manifest (embed): absolute line to another dir, relative ../home-app/private.png',
      'without --allow both not_allowed; with --allow <dir> that file embedded, private still not_allowed',
      async () => {
        const lists = join(work, 'lists');
        mkdirSync(lists, { recursive: true });
        const manifest = join(lists, 'm.txt');
        writeFileSync(manifest, [join(localSource, 'good.png'), '../home-app/private.png'].join('\n'));
        const good = pathToFileURL(join(localSource, 'good.png')).href;
        const relative = pathToFileURL(privatePath).href;
        const embed = async (runId: string, extra: string[]) => {
          const out = join(work, 'embed-out');
          const result = await runCli(['embed', '--source', manifest, '--out', out, '--model', TINY_MODEL, '--run', runId, '--threads', '1', ...extra], env);
          // 4: the run finished without embedding anything (every object not_allowed).
          expect(result.code, result.stderr).toBe(extra.length === 0 ? 4 : 0);
          const folder = join(out, runId);
          const manifestJson = runManifestSchema.parse(JSON.parse(readFileSync(join(folder, '_manifest.json'), 'utf8')));
          const rows = new Map<string, string>();
          const listed = await manifestFiles(manifestJson, async (key) => readFileSync(join(folder, key)));
          for (const file of listed.parts) for (const row of await duck<{ uri: string; sha256: string }>(`SELECT uri, sha256 FROM read_parquet('${join(folder, file.key)}')`)) rows.set(row.uri, `embedded:${row.sha256}`);
          for (const file of listed.errors) for (const row of await duck<{ uri: string; error_code: string }>(`SELECT uri, error_code FROM read_parquet('${join(folder, file.key)}')`)) rows.set(row.uri, row.error_code);
          return rows;
        };
        const without = await embed('embed-default', []);
        expect(Object.fromEntries(without)).toEqual({ [good]: 'not_allowed', [relative]: 'not_allowed' });
        const widened = await embed('embed-allow', ['--allow', localSource]);
        expect(widened.get(good)).toMatch(/^embedded:/);
        expect(widened.get(relative)).toBe('not_allowed');
        expect([...without.values(), ...widened.values()].join(' ')).not.toContain(forbidden['private file']!);
        return `without --allow: ${[...without.values()].join(', ')}; with --allow: good ${widened.get(good)!.split(':')[0]}, private ${widened.get(relative)}`;
      },
    );
  });
});

describe('trust: nothing forbidden in any output', () => {
  it("the private file's sha256 (and what .. would reach) appears in no output; every run completed", async () => {
    await probe('trust', 'sha256 of the private file / other bucket / img/x.png / secret in any output', 'never; all 4 runs completed', async () => {
      const states = [...outcomes.values()].map((outcome) => outcome.state);
      expect(states).toEqual(['completed', 'completed', 'completed', 'completed']);
      const shas = [...outcomes.values()].flatMap((outcome) => [...outcome.rows.values()].flatMap((row) => ('sha256' in row ? [row.sha256] : [])));
      expect(shas.length).toBe(3);
      for (const [what, value] of Object.entries(forbidden)) expect(shas, what).not.toContain(value);
      // Not in the workers' logs either.
      expect(workerLogs.length).toBe(2);
      for (const log of workerLogs) expect(log()).not.toContain(forbidden['private file']);
      return `${shas.length} embedded rows, none with a forbidden sha256; runs ${[...new Set(states)].join(', ')}`;
    });
  });
});
