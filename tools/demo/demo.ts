/**
 * `npm run demo`: the main job on an embedded default, end to end through the real queue.
 *
 * 1. sample images (the committed fixture photos, variations of them, and a few broken files);
 * 2. local Redis (started when nothing answers and redis-server is installed);
 * 3. one producer (`siglip-batch enqueue`) and two workers (`siglip-batch worker`) as processes;
 * 4. the run summary (`siglip-batch status`), a DuckDB query of the output, top tags per image.
 *
 * The model is $SIGLIP_MODEL (a directory exported by tools/export), or the tiny random model
 * of the fixtures, whose labels are meaningless.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import sharp from 'sharp';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const bin = join(root, 'node_modules', '.bin', 'siglip-batch');
const workDir = join(root, 'demo-output');
const imagesDir = join(workDir, 'images');
const runsDir = join(workDir, 'runs');
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = 'siglip-demo';
const tinyModel = join(root, 'fixtures', 'models', 'tiny-siglip');
const LABELS = ['cat', 'dog', 'astronaut', 'rocket', 'coffee', 'moon', 'motorcycle', 'coins', 'person', 'landscape', 'text', 'food'];

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

async function main(): Promise<void> {
  const model = process.env['SIGLIP_MODEL'] ? resolve(process.env['SIGLIP_MODEL']) : tinyModel;
  if (model === tinyModel) {
    say('Model: the tiny RANDOM-initialised SigLIP of the test fixtures (no real weights can be downloaded here).');
    say('       Its embeddings are deterministic but its labels and tags are MEANINGLESS.');
    say('       For real results export a checkpoint and point SIGLIP_MODEL at it:');
    say('         python3 -m venv .venv && .venv/bin/pip install -r tools/export/requirements.txt');
    say('         .venv/bin/python tools/export/siglip_export.py --checkpoint google/siglip-so400m-patch14-224 --out models/siglip-so400m');
    say('         SIGLIP_MODEL=models/siglip-so400m npm run demo');
  } else {
    say(`Model: ${model}`);
  }
  await ensureRedis();
  const count = await makeSampleImages();
  say(`Sample images: ${count} files in ${imagesDir} (including broken ones)`);

  const runId = `demo-${new Date().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-').toLowerCase()}`;
  const env = { ...process.env, REDIS_URL: redisUrl, SIGLIP_BATCH_PREFIX: prefix };
  const workers = [1, 2].map((n) => startWorker(n, model, env));
  try {
    const labelsFile = join(workDir, 'labels.txt');
    writeFileSync(labelsFile, `${LABELS.join('\n')}\n`);
    say(`\n$ siglip-batch enqueue --run ${runId} --source ${imagesDir} --out ${runsDir} --model ${model} --labels-file ${labelsFile} --shard-size 25`);
    const enqueue = spawnSync(bin, ['enqueue', '--run', runId, '--source', imagesDir, '--out', runsDir, '--model', model, '--labels-file', labelsFile, '--shard-size', '25'], {
      env,
      stdio: 'inherit',
    });
    if (enqueue.status !== 0) throw new Error(`enqueue failed (exit ${enqueue.status})`);
    await waitForRun(runId, env);
    say(`\n$ siglip-batch status ${runId}`);
    spawnSync(bin, ['status', runId], { env, stdio: 'inherit' });
  } finally {
    await Promise.all(workers.map(stopWorker));
  }
  await query(join(runsDir, runId));
  say(`\nRun folder: ${join(runsDir, runId)}`);
}

async function ensureRedis(): Promise<void> {
  if (await redisAnswers()) return;
  const local = /^redis:\/\/(127\.0\.0\.1|localhost)(:6379)?\/?$/.test(redisUrl);
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  if (!local || which.status !== 0) {
    throw new Error(
      `no Redis answers at ${redisUrl}. Install and start one (Debian: apt-get install redis-server), or set REDIS_URL to a Redis ≥ 6.2 with maxmemory-policy noeviction.`,
    );
  }
  say('Starting redis-server on 127.0.0.1:6379 (nothing answered there)');
  spawnSync('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', '6379', '--save', '', '--appendonly', 'no'], { stdio: 'inherit' });
  for (let i = 0; i < 50 && !(await redisAnswers()); i++) await new Promise((r) => setTimeout(r, 100));
  if (!(await redisAnswers())) throw new Error('redis-server did not start');
}

async function redisAnswers(): Promise<boolean> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** Fixture photos, flipped / tinted / cropped variations of them, and three broken files. */
async function makeSampleImages(): Promise<number> {
  mkdirSync(imagesDir, { recursive: true });
  const fixtures = join(root, 'fixtures', 'images');
  const photos = readdirSync(fixtures).filter((f) => !f.includes('large') && !f.startsWith('thin') && !f.startsWith('pixel'));
  for (const file of photos) {
    if (!existsSync(join(imagesDir, file))) copyFileSync(join(fixtures, file), join(imagesDir, file));
  }
  const bases = photos.filter((f) => /\.(jpg|png)$/.test(f) && !f.includes('16') && !f.includes('cmyk'));
  for (const [i, file] of bases.entries()) {
    for (const kind of ['flip', 'tint', 'crop'] as const) {
      const out = join(imagesDir, `variant-${kind}-${basename(file, '.png').replace('.jpg', '')}.jpg`);
      if (existsSync(out)) continue;
      let image = sharp(join(fixtures, file)).rotate();
      if (kind === 'flip') image = image.flop();
      if (kind === 'tint') image = image.tint({ r: 40 + ((i * 37) % 200), g: 120, b: 200 - ((i * 23) % 150) });
      if (kind === 'crop') {
        const meta = await sharp(join(fixtures, file)).metadata();
        const w = Math.max(8, Math.floor((meta.width ?? 64) * 0.6));
        const h = Math.max(8, Math.floor((meta.height ?? 64) * 0.6));
        image = sharp(join(fixtures, file)).extract({ left: 0, top: 0, width: w, height: h });
      }
      await image.jpeg({ quality: 85 }).toFile(out);
    }
  }
  const broken = join(root, 'fixtures', 'images-broken');
  for (const file of ['corrupt.jpg', 'empty.jpg', 'html.jpg']) {
    const target = join(imagesDir, `broken-${file}`);
    if (!existsSync(target)) copyFileSync(join(broken, file), target);
  }
  return readdirSync(imagesDir).length;
}

function startWorker(n: number, model: string, env: NodeJS.ProcessEnv): ChildProcess {
  // Workers read local files only under --allow (a run spec in Redis cannot open their disks).
  say(`Starting worker ${n}: siglip-batch worker --model ${model} --device cpu --threads 1 --allow ${imagesDir}`);
  const child = spawn(bin, ['worker', '--model', model, '--device', 'cpu', '--threads', '1', '--batch-size', '16', '--shutdown-timeout', '20000', '--allow', imagesDir], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      if (/error|started|completed|failed/i.test(line)) process.stderr.write(`  [worker ${n}] ${line}\n`);
    }
  });
  return child;
}

function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolveStop) => {
    child.once('exit', () => resolveStop());
    child.kill('SIGTERM');
  });
}

async function waitForRun(runId: string, env: NodeJS.ProcessEnv): Promise<void> {
  const deadline = Date.now() + 15 * 60_000;
  let last = '';
  while (Date.now() < deadline) {
    const result = spawnSync(bin, ['status', runId, '--json'], { env, encoding: 'utf8' });
    if (result.status === 0 || result.status === 3) {
      const status = JSON.parse(result.stdout) as { state: string; objects: { done: number; planned: number } };
      const line = `  ${status.state}: ${status.objects.done}/${status.objects.planned} objects`;
      if (line !== last) say(line);
      last = line;
      if (status.state === 'completed') return;
      if (status.state === 'failed' || status.state === 'cancelled') throw new Error(`run ${runId} ended ${status.state}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`run ${runId} did not finish within 15 minutes`);
}

/** DuckDB over exactly the files the run's manifest lists. */
async function query(folder: string): Promise<void> {
  const manifest = JSON.parse(await import('node:fs/promises').then((fs) => fs.readFile(join(folder, '_manifest.json'), 'utf8'))) as {
    files: { key: string };
    embeddingDim: number;
  };
  const quote = (text: string) => `'${text.replace(/'/g, "''")}'`;
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  const show = async (title: string, sql: string) => {
    say(`\n${title}\n  ${sql.replace(/\s+/g, ' ').trim()}`);
    const reader = await connection.runAndReadAll(sql);
    const rows = reader.getRowObjectsJson();
    for (const row of rows) say(`  ${JSON.stringify(row)}`);
  };
  // The run's files, from its file table (named by the manifest), into a DuckDB variable.
  const filesOf = async (kind: 'part' | 'errors') => {
    await connection.run(`SET VARIABLE ${kind}_files = (SELECT list(${quote(`${folder}/`)} || key) FROM read_parquet(${quote(join(folder, manifest.files.key))}) WHERE kind = '${kind}' AND rows > 0)`);
    return Number((await connection.runAndReadAll(`SELECT coalesce(len(getvariable('${kind}_files')), 0)::INTEGER AS n`)).getRowObjectsJson()[0]!['n']);
  };
  const list = (kind: 'part' | 'errors') => `getvariable('${kind}_files')`;
  if ((await filesOf('part')) > 0) {
    const D = manifest.embeddingDim;
    await show(
      'DuckDB: rows, embedding width and norms of the part files',
      `SELECT count(*)::INTEGER AS rows, min(len(embedding)) AS dim, round(avg(sqrt(list_dot_product(embedding, embedding))), 4) AS mean_norm FROM read_parquet(${list('part')})`,
    );
    await show(
      'DuckDB: nearest neighbour of the first image (cosine similarity)',
      `WITH t AS (SELECT uri, embedding::FLOAT[${D}] AS e FROM read_parquet(${list('part')})),
       q AS (SELECT e FROM t ORDER BY uri LIMIT 1)
       SELECT regexp_extract(t.uri, '[^/]+$') AS image, round(array_cosine_similarity(t.e, q.e), 4)::DOUBLE AS cosine FROM t, q ORDER BY cosine DESC LIMIT 3`,
    );
    await show(
      'Top tags per image (first 12; tiny random model: meaningless)',
      `SELECT regexp_extract(uri, '[^/]+$') AS image, tags[1:3] AS top_tags, round(list_max(scores), 3)::DOUBLE AS best_score FROM read_parquet(${list('part')}) ORDER BY uri LIMIT 12`,
    );
  }
  if ((await filesOf('errors')) > 0) {
    await show('Error rows', `SELECT regexp_extract(uri, '[^/]+$') AS object, error_code, error FROM read_parquet(${list('errors')}) ORDER BY uri`);
  }
  connection.closeSync();
  db.closeSync();
}

main().catch((error: unknown) => {
  process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
