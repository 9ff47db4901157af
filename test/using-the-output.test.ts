/**
 * The README's "Using the output" section, run as it is written: every fenced block of the section
 * is tagged `test:<name>` and run here against runs this file embeds (tiny fixture model, float32
 * and float16 embeddings), so the README cannot drift from what works. Each reader's example must
 * find the query image itself first among its 5 nearest neighbours.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runManifestSchema } from '@siglip-batch/jobs';
import { manifestFiles } from './support/run-files';
import { BROKEN_OBJECTS, makeSampleImage } from './support/sample-images';
import { TINY_MODEL, runCli } from './support/cli';
import { examplesPython, fencedBlocks, parseHits, readmeSection, runWithInput, type Hit, type ReadmeBlock } from './support/readme-examples';

const SECTION = 'Using the output';
const READERS = ['duckdb', 'duckdb-exact', 'pyarrow', 'faiss', 'lancedb'] as const;
const K = 5;
const IMAGES = 12;

const work = mkdtempSync(join(tmpdir(), 'siglip-using-output-'));
const source = join(work, 'images');
const out = join(work, 'out');
const blocks = fencedBlocks(readmeSection(SECTION));

interface Run {
  dtype: 'float32' | 'float16';
  /** The run folder's URI, as `embed` prints it. */
  uri: string;
  folder: string;
  /** The image whose neighbours the examples look for: not the first row of any part file. */
  query: string;
  uris: string[];
}
const runs: Run[] = [];

beforeAll(async () => {
  mkdirSync(source, { recursive: true });
  const names: string[] = [];
  for (let i = 0; i < IMAGES; i++) {
    const image = await makeSampleImage(7100 + i);
    writeFileSync(join(source, image.name), image.bytes);
    names.push(image.name);
  }
  // A failed object gives the run an errors file: the examples must read the part files only.
  writeFileSync(join(source, BROKEN_OBJECTS[0]!.name), BROKEN_OBJECTS[0]!.bytes);
  const env = { ...process.env, REDIS_URL: 'redis://127.0.0.1:1' };
  for (const [dtype, queryIndex] of [['float32', 6], ['float16', 9]] as const) {
    const args = ['embed', '--source', source, '--out', out, '--model', TINY_MODEL, '--run', `out-${dtype}`, '--labels', 'cat,dog'];
    const result = await runCli([...args, '--shard-size', '4', '--threads', '1', '--embedding-dtype', dtype], env);
    if (result.code !== 0) throw new Error(`embed --embedding-dtype ${dtype} failed: ${result.stderr}`);
    const folder = join(out, `out-${dtype}`);
    runs.push({ dtype, uri: result.stdout.trim(), folder, query: `file://${join(source, names[queryIndex]!)}`, uris: names.map((name) => `file://${join(source, name)}`) });
  }
}, 180_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

function blocksOf(name: string): ReadmeBlock[] {
  const found = blocks.filter((block) => block.name === name);
  if (found.length === 0) throw new Error(`README.md "${SECTION}" has no block tagged test:${name}`);
  return found;
}

function exampleEnv(run: Run, python: string | undefined): NodeJS.ProcessEnv {
  // `python3` in shell examples is the examples' Python; no Redis is needed to read a run.
  const path = python ? `${dirname(python)}:${process.env['PATH'] ?? ''}` : process.env['PATH'];
  return { ...process.env, RUN: run.uri, URI: run.query, PATH: path, REDIS_URL: 'redis://127.0.0.1:1' };
}

/** Runs one block; its stdout. */
async function runBlock(block: ReadmeBlock, run: Run): Promise<string> {
  const python = block.lang === 'python' || block.lang === 'sh' ? examplesPython() : undefined;
  const env = exampleEnv(run, python);
  const [command, args] =
    block.lang === 'python' ? [python!, ['-']] : block.lang === 'sh' ? ['bash', ['-euo', 'pipefail', '-s']] : block.lang === 'js' ? [process.execPath, ['--input-type=module', '-']] : [];
  if (!command) throw new Error(`test:${block.name}: no runner for a \`${block.lang}\` block`);
  const result = await runWithInput(command, args!, block.code, env);
  if (result.code !== 0) throw new Error(`test:${block.name} (${block.lang}) exited with ${result.code}:\n${result.stderr}\n${result.stdout}`);
  return result.stdout;
}

function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** The SQL example with its `SET VARIABLE run/uri = '…';` lines set to this run and image. */
function boundSql(sql: string, run: Run): string {
  let bound = sql;
  for (const [name, value] of [['run', run.uri], ['uri', run.query]] as const) {
    const line = new RegExp(`^SET VARIABLE ${name} = '[^']*';$`, 'm');
    if (!line.test(bound)) throw new Error(`the DuckDB example has no line "SET VARIABLE ${name} = '…';" to set`);
    bound = bound.replace(line, () => `SET VARIABLE ${name} = ${sqlString(value)};`);
  }
  return bound;
}

async function runSql(sql: string): Promise<Hit[]> {
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    const rows = (await connection.runAndReadAll(sql)).getRowObjectsJS() as Array<{ score: number; uri: string }>;
    return rows.map((row) => ({ score: Number(row.score), uri: row.uri }));
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

/** The reader's example on `run`: the hits its last block prints. */
async function neighbours(reader: string, run: Run): Promise<Hit[]> {
  const example = blocksOf(reader);
  let stdout = '';
  for (const block of example) {
    if (block.lang === 'sql') return runSql(boundSql(block.code, run));
    stdout = await runBlock(block, run);
  }
  return parseHits(stdout);
}

describe(`README "${SECTION}"`, () => {
  it('tags every block it shows, and has an example per reader', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(READERS.length);
    expect(blocks.filter((block) => !block.name).map((block) => block.code)).toEqual([]);
    const names = new Set(blocks.map((block) => block.name));
    for (const reader of READERS) expect(names.has(reader), `test:${reader}`).toBe(true);
  });

  it('files: lists the manifest\'s part and errors files, its file table, and one JSON object per part file', async () => {
    const run = runs[0]!;
    const manifest = runManifestSchema.parse(JSON.parse(readFileSync(join(run.folder, '_manifest.json'), 'utf8')));
    const listed = await manifestFiles(manifest, async (key) => readFileSync(join(run.folder, key)));
    expect(listed.errors.length).toBeGreaterThan(0);
    const lines = (await runBlock(blocksOf('files')[0]!, run)).split('\n').filter(Boolean);
    const plain = lines.filter((line) => !line.startsWith('{'));
    const json = lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { uri: string; kind: string; rows: number });
    // A local run's files may be printed as paths or as file:// URIs: both are what readers take.
    const local = (uri: string) => uri.replace(/^file:\/\//, '');
    const pathOf = (key: string) => join(run.folder, key);
    expect(plain.map(local)).toEqual([...listed.parts.map((p) => pathOf(p.key)), ...listed.errors.map((e) => pathOf(e.key)), pathOf(manifest.files!.key)]);
    expect(json.map(({ uri, kind, rows }) => ({ uri: local(uri), kind, rows }))).toEqual(listed.parts.map((p) => ({ uri: pathOf(p.key), kind: 'part', rows: p.rows })));
  });

  it('has runs of both embedding types: the part files hold FLOAT16 or FLOAT embeddings', async () => {
    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    try {
      for (const run of runs) {
        const file = join(run.folder, 'parts', 'part-00000000.parquet');
        const reader = await connection.runAndReadAll(`SELECT name, type, logical_type::VARCHAR AS logical FROM parquet_schema(${sqlString(file)})`);
        const columns = reader.getRowObjectsJS() as Array<{ name: string; type: string | null; logical: string | null }>;
        // embedding (LIST) → list → item: the element's physical and logical type
        const element = columns[columns.findIndex((column) => column.name === 'embedding') + 2];
        expect(element).toEqual(run.dtype === 'float16' ? { name: 'item', type: 'FIXED_LEN_BYTE_ARRAY', logical: 'Float16Type()' } : { name: 'item', type: 'FLOAT', logical: null });
      }
    } finally {
      connection.closeSync();
      db.closeSync();
    }
  });

  for (const reader of READERS) {
    for (const dtype of ['float32', 'float16'] as const) {
      it(`${reader} (${dtype} run): the query image's own row comes back first, then its neighbours`, async () => {
        const run = runs.find((r) => r.dtype === dtype)!;
        const hits = await neighbours(reader, run);
        expect(hits).toHaveLength(K);
        expect(hits[0]!.uri).toBe(run.query);
        expect(hits[0]!.score).toBeCloseTo(1, 3);
        // The runs' images all embed apart, so the query's own row is first by its score, not by a tie.
        expect(hits[1]!.score).toBeLessThan(0.9999);
        expect(new Set(hits.map((hit) => hit.uri)).size).toBe(K);
        for (const hit of hits) expect(run.uris).toContain(hit.uri);
        for (let i = 1; i < K; i++) expect(hits[i]!.score).toBeLessThanOrEqual(hits[i - 1]!.score + 1e-6);
      });
    }
  }
});
