/**
 * One-process mode (`siglip-batch embed`): the same planner, shard processor and finaliser
 * without Redis, into the same run folder layout with a manifest.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runManifestSchema } from '@siglip-batch/jobs';
import { manifestFiles } from './support/run-files';
import { BROKEN_OBJECTS, makeSampleImage } from './support/sample-images';
import { TINY_MODEL, runCli } from './support/cli';

const work = mkdtempSync(join(tmpdir(), 'siglip-embed-'));
const source = join(work, 'images');
const out = join(work, 'out');
// No Redis anywhere near this mode: point REDIS_URL at a closed port to prove it.
const env = { ...process.env, REDIS_URL: 'redis://127.0.0.1:1' };

beforeAll(async () => {
  mkdirSync(source, { recursive: true });
  for (let i = 0; i < 40; i++) {
    const image = await makeSampleImage(5000 + i);
    writeFileSync(join(source, image.name), image.bytes);
  }
  for (const broken of BROKEN_OBJECTS) writeFileSync(join(source, broken.name), broken.bytes);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('siglip-batch embed', () => {
  it('embeds a directory into a run folder with a manifest, without Redis, and prints the folder', async () => {
    const result = await runCli(
      ['embed', '--source', source, '--out', out, '--model', TINY_MODEL, '--run', 'local-1', '--labels', 'cat,dog', '--shard-size', '16', '--threads', '1'],
      env,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe(`file://${out}/local-1`);
    expect(result.stderr).toContain(`40 embedded, ${BROKEN_OBJECTS.length} errors`);
    const manifest = runManifestSchema.parse(JSON.parse(readFileSync(join(out, 'local-1', '_manifest.json'), 'utf8')));
    expect(manifest.counts).toMatchObject({ planned: 40 + BROKEN_OBJECTS.length, ok: 40, error: BROKEN_OBJECTS.length });
    expect(manifest.shards).toBe(Math.ceil((40 + BROKEN_OBJECTS.length) / 16));
    expect(manifest.labelsFile).toBe('labels.parquet');

    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    try {
      const listed = await manifestFiles(manifest, async (key) => readFileSync(join(out, 'local-1', key)));
      const files = listed.parts.map((p) => `'${join(out, 'local-1', p.key)}'`).join(', ');
      const reader = await connection.runAndReadAll(
        `SELECT count(*)::INTEGER AS n, count(DISTINCT uri)::INTEGER AS uris, min(len(scores))::INTEGER AS labels FROM read_parquet([${files}])`,
      );
      expect(reader.getRowObjectsJS()).toEqual([{ n: 40, uris: 40, labels: 2 }]);
      const labels = await connection.runAndReadAll(`SELECT label, threshold FROM read_parquet('${join(out, 'local-1', 'labels.parquet')}') ORDER BY label`);
      expect(labels.getRowObjectsJS()).toEqual([
        { label: 'cat', threshold: 0.1 },
        { label: 'dog', threshold: 0.1 },
      ]);
    } finally {
      connection.closeSync();
      db.closeSync();
    }
  });

  it('runs again as a no-op: finished shards are not processed twice', async () => {
    const part = join(out, 'local-1', 'parts', 'part-00000000.parquet');
    const before = statSync(part).mtimeMs;
    const result = await runCli(['embed', '--source', source, '--out', out, '--model', TINY_MODEL, '--run', 'local-1', '--labels', 'cat,dog', '--shard-size', '16'], env);
    expect(result.code, result.stderr).toBe(0);
    expect(statSync(part).mtimeMs).toBe(before);
  });

  it('refuses to reuse a run id for different work, naming the difference', async () => {
    const result = await runCli(['embed', '--source', source, '--out', out, '--model', TINY_MODEL, '--run', 'local-1', '--labels', 'cat,dog', '--shard-size', '8'], env);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/already exists .* different shardSize/);
  });
});
