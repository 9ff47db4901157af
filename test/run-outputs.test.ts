/**
 * What a run's outputs give readers: the per-kind folders (`parts/` alone globbable), stable
 * `row_id`s, `siglip-batch files`, `--embedding-dtype float16` against float32 and
 * `--decode fast` against exact on the fixture images with the tiny model.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRowId, runTag } from '@siglip-batch/jobs';
import { REPO_ROOT, TINY_MODEL, runCli } from './support/cli';
import { BROKEN_OBJECTS } from './support/sample-images';

const work = mkdtempSync(join(tmpdir(), 'siglip-outputs-'));
const out = join(work, 'out');
// The fixture images and a few broken objects (error rows).
const images = join(work, 'images');
const env = { ...process.env, REDIS_URL: 'redis://127.0.0.1:1' };
let db: DuckDBInstance;
let duck: DuckDBConnection;

const query = async <T>(sql: string) => (await duck.runAndReadAll(sql)).getRowObjectsJS() as T[];
const list = (paths: string[]) => `[${paths.map((p) => `'${p.replaceAll("'", "''")}'`).join(', ')}]`;

async function embed(run: string, extra: string[] = []): Promise<void> {
  const result = await runCli(['embed', '--source', images, '--out', out, '--model', TINY_MODEL, '--run', run, '--shard-size', '8', '--threads', '1', ...extra], env);
  expect(result.code, result.stderr).toBe(0);
}

async function files(args: string[]): Promise<{ code: number | null; lines: string[]; stderr: string }> {
  const result = await runCli(['files', ...args], env);
  return { code: result.code, lines: result.stdout.split('\n').filter(Boolean), stderr: result.stderr };
}

beforeAll(async () => {
  cpSync(join(REPO_ROOT, 'fixtures', 'images'), images, { recursive: true });
  for (const broken of BROKEN_OBJECTS) writeFileSync(join(images, broken.name), broken.bytes);
  await embed('f32');
  await embed('f16', ['--embedding-dtype', 'float16']);
  db = await DuckDBInstance.create(':memory:');
  duck = await db.connect();
}, 240_000);

afterAll(() => {
  duck?.closeSync();
  db?.closeSync();
  rmSync(work, { recursive: true, force: true });
});

describe('run outputs', () => {
  it('lists the files of a run, and its parts/ folder alone holds the part files', async () => {
    const parts = await files(['--run', join(out, 'f32')]);
    expect(parts.code, parts.stderr).toBe(0);
    expect(parts.lines.length).toBeGreaterThan(1);
    expect(parts.lines.every((line) => line.startsWith(join(out, 'f32', 'parts', 'part-')))).toBe(true);
    expect(readdirSync(join(out, 'f32', 'parts')).map((name) => join(out, 'f32', 'parts', name)).sort()).toEqual([...parts.lines].sort());

    const json = (await files(['--run', join(out, 'f32'), '--kind', 'errors', '--json'])).lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(json.length).toBeGreaterThan(0);
    expect(json.every((file) => file['kind'] === 'errors' && typeof file['rows'] === 'number' && String(file['uri']).includes('/errors/errors-'))).toBe(true);

    // A glob over parts/ reads exactly the rows the listed files hold, with one schema.
    const [globbed] = await query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM read_parquet('${join(out, 'f32', 'parts')}/*.parquet')`);
    const [listed] = await query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM read_parquet(${list(parts.lines)})`);
    expect(globbed!.n).toBe(listed!.n);
    const errorsRows = json.reduce((n, file) => n + (file['rows'] as number), 0);
    expect(globbed!.n + errorsRows).toBe(readdirSync(images).length);
  });

  it('refuses a folder without a manifest, naming why', async () => {
    mkdirSync(join(out, 'unfinished'), { recursive: true });
    const result = await files(['--run', join(out, 'unfinished')]);
    expect(result.code).toBe(1);
    expect(result.lines).toEqual([]);
    expect(result.stderr).toMatch(/has no _manifest\.json: the run is not finalised/);
  });

  it('gives every object one stable row id, unique over part and errors files, decoding to its shard', async () => {
    const parts = (await files(['--run', join(out, 'f32')])).lines;
    const errors = (await files(['--run', join(out, 'f32'), '--kind', 'errors'])).lines;
    const rows = await query<{ row_id: bigint; file: string }>(
      `SELECT row_id, filename AS file FROM read_parquet(${list([...parts, ...errors])}, filename = true)`,
    );
    expect(rows.length).toBe(readdirSync(images).length);
    expect(new Set(rows.map((row) => row.row_id)).size).toBe(rows.length);
    for (const row of rows) {
      const id = parseRowId(row.row_id);
      expect(id.runTag).toBe(runTag('f32'));
      expect(row.file).toMatch(new RegExp(`-${String(id.shard).padStart(8, '0')}\\.parquet$`));
      expect(id.row).toBeLessThan(8);
    }
    // Same plan in both runs: the same shard and position for every uri, under another run tag.
    const pairs = await query<{ a: bigint; b: bigint }>(
      `SELECT a.row_id AS a, b.row_id AS b FROM read_parquet(['${join(out, 'f32')}/parts/*.parquet', '${join(out, 'f32')}/errors/*.parquet'], union_by_name = true) a
       JOIN read_parquet(['${join(out, 'f16')}/parts/*.parquet', '${join(out, 'f16')}/errors/*.parquet'], union_by_name = true) b USING (uri)`,
    );
    expect(pairs.length).toBe(rows.length);
    for (const { a, b } of pairs) expect({ ...parseRowId(a), runTag: 0 }).toEqual({ ...parseRowId(b), runTag: 0 });
  });

  it('stores float16 embeddings in half the bytes, within cosine 0.9999 of float32', async () => {
    const f16 = (await files(['--run', join(out, 'f16')])).lines;
    const f32 = (await files(['--run', join(out, 'f32')])).lines;
    const [dims] = await query<{ dim: number }>(`SELECT max(len(embedding))::INTEGER AS dim FROM read_parquet(${list(f32)})`);
    const D = dims!.dim;
    const cosines = await query<{ uri: string; c: number }>(
      `SELECT a.uri, array_cosine_similarity(a.embedding::FLOAT[${D}], b.embedding::FLOAT[${D}])::DOUBLE AS c
       FROM read_parquet(${list(f32)}) a JOIN read_parquet(${list(f16)}) b USING (uri)`,
    );
    const [count] = await query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM read_parquet(${list(f32)})`);
    expect(cosines.length).toBe(count!.n);
    expect(Math.min(...cosines.map((row) => row.c))).toBeGreaterThanOrEqual(0.9999);

    const bytes = async (paths: string[]) =>
      Number(
        (await query<{ n: bigint }>(`SELECT sum(total_uncompressed_size)::BIGINT AS n FROM parquet_metadata(${list(paths)}) WHERE path_in_schema LIKE 'embedding%'`))[0]!.n,
      );
    expect((await bytes(f16)) / (await bytes(f32))).toBeLessThan(0.55);
    const [kv] = await query<{ v: string }>(`SELECT decode(value) AS v FROM parquet_kv_metadata('${f16[0]}') WHERE decode(key) = 'siglip_batch.embedding_dtype'`);
    expect(kv!.v).toBe('float16');
    // Frozen in the run spec, recorded in the manifest.
    expect(JSON.parse(readFileSync(join(out, 'f16', '_run.json'), 'utf8'))).toMatchObject({ embeddingDtype: 'float16' });
    expect(JSON.parse(readFileSync(join(out, 'f16', '_manifest.json'), 'utf8'))).toMatchObject({ embeddingDtype: 'float16' });
    expect(JSON.parse(readFileSync(join(out, 'f32', '_manifest.json'), 'utf8'))).not.toHaveProperty('embeddingDtype');
  });

  it('embed --decode fast: frozen in _run.json, recorded in the manifest and every file; PNG rows as exact', async () => {
    // The 4000×3000 JPEG is decoded at 1/4 scale; the PNG has no scaled decoding.
    const few = join(work, 'few');
    mkdirSync(few, { recursive: true });
    for (const name of ['astronaut_large_4000x3000.jpg', 'camera_grey.png']) cpSync(join(images, name), join(few, name));
    const fast = await runCli(['embed', '--source', few, '--out', out, '--model', TINY_MODEL, '--run', 'fast', '--threads', '1', '--decode', 'fast', '--reducing-gap', '2'], env);
    expect(fast.code, fast.stderr).toBe(0);
    const decode = { mode: 'fast', reducingGap: 2 };
    expect(JSON.parse(readFileSync(join(out, 'fast', '_run.json'), 'utf8'))).toMatchObject({ decode });
    expect(JSON.parse(readFileSync(join(out, 'fast', '_manifest.json'), 'utf8'))).toMatchObject({ decode });
    expect(JSON.parse(readFileSync(join(out, 'f32', '_run.json'), 'utf8'))).not.toHaveProperty('decode');
    const kv = async (file: string) =>
      (await query<{ v: string }>(`SELECT decode(value) AS v FROM parquet_kv_metadata('${file}') WHERE decode(key) = 'siglip_batch.decode'`))[0]?.v;
    const fastParts = (await files(['--run', join(out, 'fast')])).lines;
    expect(JSON.parse((await kv(fastParts[0]!))!)).toEqual(decode);
    expect(JSON.parse((await kv((await files(['--run', join(out, 'f32')])).lines[0]!))!)).toEqual({ mode: 'exact' });

    const f32 = (await files(['--run', join(out, 'f32')])).lines;
    const rows = await query<{ uri: string; same: boolean; c: number }>(
      `SELECT regexp_extract(a.uri, '[^/]+$') AS uri, a.embedding = b.embedding AS same,
              array_cosine_similarity(a.embedding::FLOAT[32], b.embedding::FLOAT[32])::DOUBLE AS c
       FROM read_parquet(${list(fastParts)}) a JOIN read_parquet(${list(f32)}) b ON regexp_extract(a.uri, '[^/]+$') = regexp_extract(b.uri, '[^/]+$')
       ORDER BY 1`,
    );
    expect(rows.map((row) => [row.uri, row.same])).toEqual([
      ['astronaut_large_4000x3000.jpg', false],
      ['camera_grey.png', true],
    ]);
    expect(rows[0]!.c).toBeGreaterThan(0.99);

    // A gap without the mode is refused (the other wrong values: run-options.spec.ts).
    const refused = await runCli(['embed', '--source', few, '--out', out, '--model', TINY_MODEL, '--run', 'refused', '--reducing-gap', '3'], env);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/--reducing-gap applies to --decode fast only/);
  });

  it('searches a float16 run: an image finds itself first', async () => {
    const image = join(images, 'chelsea.webp');
    const result = await runCli(['search', '--run', join(out, 'f16'), '--model', TINY_MODEL, '--image', image, '-k', '3', '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    const hits = (JSON.parse(result.stdout) as { hits: Array<{ uri: string; score: number }> }).hits;
    expect(hits[0]!.uri).toMatch(/chelsea\.webp$/);
    expect(hits[0]!.score).toBeGreaterThan(0.999);
  });
});
