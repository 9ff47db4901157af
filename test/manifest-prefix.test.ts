/**
 * A prefix of manifests end to end (issue 13, item 1), on real Redis and moto: `--source
 * s3://b/lists/ --source-kind manifest` (and a local directory) plans every manifest file under
 * the folder, text and Parquet, one planning unit per file in key order, ignoring other files;
 * the plans and shard ids are those of the equivalent glob; an empty prefix is a configuration
 * error.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Arrow, encodeTable } from '@siglip-batch/io';
import { unitShardsFor } from '@siglip-batch/jobs';
import { TINY_MODEL, runCli } from './support/cli';
import { listKeys } from './support/fault-checks';
import { FAST_WORKER, createFaultWorld, type FaultWorld } from './support/fault-run';

let world: FaultWorld;
let work: string;
beforeEach(async () => {
  world = await createFaultWorld();
  work = mkdtempSync(join(tmpdir(), 'manifest-prefix-'));
});
afterEach(async () => {
  await world?.close();
  rmSync(work, { recursive: true, force: true });
});

function textManifest(uris: string[]): string {
  return `# made by the test\n${uris.join('\n')}\n`;
}

/** A Parquet manifest: the `uri` column and a `caption` passed through to the rows. */
function parquetManifest(uris: string[]): Uint8Array {
  const table = new Arrow.Table({
    uri: Arrow.vectorFromArray(uris, new Arrow.Utf8()),
    caption: Arrow.vectorFromArray(
      uris.map((_, i) => `caption ${i}`),
      new Arrow.Utf8(),
    ),
  });
  return encodeTable(table, { metadata: new Map(), rowGroupSize: 1000 });
}

async function readJson(key: string): Promise<Record<string, unknown>> {
  const body = await world.s3.send(new GetObjectCommand({ Bucket: world.bucket, Key: key }));
  return JSON.parse(await body.Body!.transformToString()) as Record<string, unknown>;
}

/** A run's plan files (shard id → plan without its run id), in shard order. */
async function plansOf(runId: string): Promise<Array<[number, unknown]>> {
  const keys = (await listKeys(world.s3, world.bucket, `out/${runId}/_plan/`)).filter((key) => /_plan\/\d{8}\.json$/.test(key)).sort();
  return Promise.all(
    keys.map(async (key): Promise<[number, unknown]> => {
      const { runId: _runId, ...plan } = await readJson(key);
      return [Number(/(\d{8})\.json$/.exec(key)![1]), plan];
    }),
  );
}

const JUNK = ['_SUCCESS', '.part-1.parquet.crc', 'part-1.parquet.crc', 'README.md', '_temporary/0/part-9.txt', 'notes.txt.gz'];

describe('a prefix of manifests', () => {
  it('S3: every .txt and .parquet manifest under the prefix is a planning unit, junk ignored; plans equal those of the equivalent glob', async () => {
    const images = await world.upload(12, 'lists/img/');
    await world.put('lists/part-0.txt', textManifest(images.slice(0, 4)));
    await world.put('lists/part-1.parquet', parquetManifest(images.slice(4, 8)));
    await world.put('lists/parts/dt=2026-12-07/part-2.txt', textManifest(images.slice(8, 12)));
    // Not manifests: an object none of them names would show up as a row if any were planned.
    for (const junk of JUNK) await world.put(`lists/${junk}`, `s3://${world.bucket}/lists/img/not-there.png\n`);
    await world.worker();

    const mixed = await world.enqueue('mixed', ['--source', `s3://${world.bucket}/lists/`, '--source-kind', 'manifest', '--shard-size', '2', '--planners', '2']);
    expect(mixed.code, mixed.stderr).toBe(0);
    expect(JSON.parse(mixed.stdout)).toMatchObject({ planningUnits: 3, shardsPlanned: 6, objectsPlanned: 12 });
    expect(await world.waitEnd('mixed')).toBe('completed');
    const check = await world.check('mixed', images);
    expect(check.problems, check.problems.join('; ')).toEqual([]);
    expect({ ok: check.ok, error: check.error }).toEqual({ ok: 12, error: 0 });
    // The frozen source names the prefix, whatever the flag said; units in key order.
    expect(await readJson('out/mixed/_run.json')).toMatchObject({ source: `s3://${world.bucket}/lists/**`, sourceKind: 'manifest-text' });
    const block = unitShardsFor(3);
    expect((await plansOf('mixed')).map(([shard]) => shard)).toEqual([0, 1, block, block + 1, 2 * block, 2 * block + 1]);
    expect(await readJson('out/mixed/_plan/units/00000001.json')).toMatchObject({ kind: 'manifest-file', file: `s3://${world.bucket}/lists/part-1.parquet`, complete: true });
    expect(await readJson('out/mixed/_plan/units/00000002.json')).toMatchObject({ file: `s3://${world.bucket}/lists/parts/dt=2026-12-07/part-2.txt` });

    // The same files as a glob: the same plans under the same shard ids, the same rows.
    const flat = await world.upload(9, 'flat/img/', 100);
    for (let f = 0; f < 3; f++) await world.put(`flat/part-${f}.parquet`, parquetManifest(flat.slice(3 * f, 3 * f + 3)));
    for (const junk of JUNK) await world.put(`flat/${junk}`, 'junk\n');
    const prefix = await world.enqueue('by-prefix', ['--source', `s3://${world.bucket}/flat/`, '--source-kind', 'manifest', '--shard-size', '2']);
    expect(prefix.code, prefix.stderr).toBe(0);
    const glob = await world.enqueue('by-glob', ['--source', `s3://${world.bucket}/flat/part-*.parquet`, '--shard-size', '2']);
    expect(glob.code, glob.stderr).toBe(0);
    expect(JSON.parse(prefix.stdout)).toMatchObject({ planningUnits: 3, shardsPlanned: 6, objectsPlanned: 9 });
    expect(await world.waitEnd('by-prefix')).toBe('completed');
    expect(await world.waitEnd('by-glob')).toBe('completed');
    const prefixPlans = await plansOf('by-prefix');
    expect(prefixPlans.map(([shard]) => shard)).toEqual([0, 1, block, block + 1, 2 * block, 2 * block + 1]);
    expect(prefixPlans).toEqual(await plansOf('by-glob'));
    const [a, b] = [await world.check('by-prefix', flat), await world.check('by-glob', flat)];
    expect([a.problems, b.problems]).toEqual([[], []]);
    expect([...a.fingerprints.entries()].sort()).toEqual([...b.fingerprints.entries()].sort());
  });

  it('a local directory of manifests plans like an S3 prefix; an empty prefix or directory is a configuration error', async () => {
    const images = await world.upload(8);
    const lists = join(work, 'lists');
    mkdirSync(join(lists, 'more'), { recursive: true });
    writeFileSync(join(lists, 'a.txt'), textManifest(images.slice(0, 3)));
    writeFileSync(join(lists, 'more', 'b.parquet'), parquetManifest(images.slice(3, 8)));
    for (const junk of ['_SUCCESS', 'b.parquet.crc', 'README.md']) writeFileSync(join(lists, junk), 'junk\n');
    // The manifests are local, the images in S3: the worker is told it may read them.
    await world.worker([...FAST_WORKER, '--allow', `s3://${world.bucket}/src/`]);
    const local = await world.enqueue('local', ['--source', lists, '--source-kind', 'manifest', '--shard-size', '3']);
    expect(local.code, local.stderr).toBe(0);
    expect(JSON.parse(local.stdout)).toMatchObject({ planningUnits: 2, shardsPlanned: 3, objectsPlanned: 8 });
    expect(await world.waitEnd('local')).toBe('completed');
    const check = await world.check('local', images);
    expect(check.problems, check.problems.join('; ')).toEqual([]);
    expect(check.ok).toBe(8);
    expect(await readJson('out/local/_run.json')).toMatchObject({ source: `${pathToFileURL(lists).href}/**` });

    // A schedule's runs are incremental, which manifests cannot be: refused when it is registered.
    const scheduled = await runCli(['schedule', '--json', '--name', 'lists', '--every', '3600000', '--source-kind', 'manifest', '--source', lists, '--out', `s3://${world.bucket}/out/`, '--model', TINY_MODEL], world.env);
    expect(scheduled.code).toBe(2);
    expect(scheduled.stdout).toContain("a schedule's runs are incremental, which list an S3 prefix, a directory or an S3 Inventory report, not manifests");

    // Nothing but junk under the prefix, or an empty directory: refused at start, nothing written.
    await world.put('empty/_SUCCESS', '');
    await world.put('empty/part-0.parquet.crc', 'x');
    const empty = await world.enqueue('empty', ['--source', `s3://${world.bucket}/empty/`, '--source-kind', 'manifest']);
    expect(empty.code).toBe(2);
    expect(JSON.parse(empty.stdout)).toMatchObject({
      error: { code: 'invalid_configuration', problems: [expect.stringContaining(`no manifest file under s3://${world.bucket}/empty/`)] },
    });
    mkdirSync(join(work, 'none'));
    const none = await world.enqueue('none', ['--source', join(work, 'none'), '--source-kind', 'manifest']);
    expect(none.code).toBe(2);
    expect(none.stdout).toMatch(/no manifest file under file:\/\/.*\/none\//);
    expect(await listKeys(world.s3, world.bucket, 'out/empty/')).toEqual([]);
    expect(await listKeys(world.s3, world.bucket, 'out/none/')).toEqual([]);
  });
});
