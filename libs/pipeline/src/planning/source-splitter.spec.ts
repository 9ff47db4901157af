import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Arrow, LocalObjectStore, encodeTable } from '@siglip-batch/io';
import { openRunFolder, type RunFolder } from '@siglip-batch/run-format';
import { MAX_SHARD, unitShardsFor, type RunSpec } from '@siglip-batch/jobs';
import { runSpecFixture } from '@siglip-batch/jobs/testing';
import { checkSourceReadable } from '../location-checks';
import { plannedShardRanges, readPlanUnit } from '../planned-shards';
import { planRun } from '../run-planner';
import { resolveManifestSource } from '../source-kind-resolver';
import { isManifestPrefix, sourceKindOf } from '../source-kind';
import { isManifestGlob, manifestFilesOf } from './source-splitter';

// The real listing, replaced once by the test of a source of too many manifests.
vi.mock('./source-splitter', async (importOriginal) => {
  const original = await importOriginal<typeof import('./source-splitter')>();
  return { ...original, manifestFilesOf: vi.fn(original.manifestFilesOf) };
});

let dir: string;
let lists: string;

function spec(source: string, shardSize = 4): RunSpec {
  return runSpecFixture({ source, sourceKind: sourceKindOf(source), output: `file://${dir}/out`, shardSize, filters: { maxBytes: 1000, maxPixels: 1000 } });
}

function folderAt(name: string): RunFolder {
  return openRunFolder({ output: { store: new LocalObjectStore(join(dir, 'out', name)), prefix: '' }, runId: 'r1' });
}

function uris(file: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `s3://bucket/${file}/${i}.jpg`);
}

function writeText(path: string, lines: string[]): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, `${lines.join('\n')}\n`);
}

function writeParquet(path: string, lines: string[]): void {
  mkdirSync(join(path, '..'), { recursive: true });
  const table = new Arrow.Table({
    uri: Arrow.vectorFromArray(lines, new Arrow.Utf8()),
    caption: Arrow.vectorFromArray(lines.map((_, i) => `caption ${i}`), new Arrow.Utf8()),
  });
  writeFileSync(path, encodeTable(table, { metadata: new Map(), rowGroupSize: 1000 }));
}

async function collect(files: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const file of files) out.push(file);
  return out;
}

/** Every planned object with its shard id and extra values, shard by shard. */
async function planned(folder: RunFolder): Promise<Array<{ shard: number; uri: string; extra?: unknown }>> {
  const listing = (await folder.readListing())!;
  const out: Array<{ shard: number; uri: string; extra?: unknown }> = [];
  for await (const range of plannedShardRanges(folder, listing)) {
    for (let shard = range.first; shard < range.first + range.count; shard++) {
      for (const object of (await folder.readPlan(shard))!.objects) out.push({ shard, uri: object.uri, ...(object.extra ? { extra: object.extra } : {}) });
    }
  }
  return out;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'manifest-prefix-'));
  lists = join(dir, 'lists');
  mkdirSync(lists);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('a prefix of manifests (<folder>/**)', () => {
  it('is told by its last segment, and is a source of several manifests', () => {
    expect(sourceKindOf('s3://b/lists/**')).toBe('manifest-text');
    expect(sourceKindOf('/data/lists/**')).toBe('manifest-text');
    expect(isManifestPrefix('s3://b/lists/**')).toBe(true);
    expect(isManifestGlob('s3://b/lists/**', 'manifest-text')).toBe(true);
    // Without the hint a folder stays a folder of images, and a name says a single manifest.
    expect(sourceKindOf('s3://b/lists/')).toBe('s3');
    expect(sourceKindOf('s3://b/lists/a.TXT')).toBe('manifest-text');
    expect(isManifestPrefix('s3://b/lists/a**')).toBe(false);
  });

  it('names every manifest file under the folder, at any depth, in key order; other files, hidden names and excluded folders are skipped', async () => {
    writeText(join(lists, 'b.txt'), ['x']);
    writeParquet(join(lists, 'a.parquet'), ['x']);
    writeText(join(lists, 'dt=2026-12-01', 'part-0.lst'), ['x']);
    writeText(join(lists, 'c.URIS'), ['x']);
    writeText(join(lists, 'd.list'), ['x']);
    for (const junk of ['_SUCCESS', '.a.parquet.crc', 'a.parquet.crc', 'README.md', 'notes.txt.gz', '_temporary/0/part-1.txt', '.hidden/e.txt', 'dt=2026-12-01/_common_metadata', 'runs/r0/part-00000.parquet']) {
      writeText(join(lists, junk), ['junk']);
    }
    const url = (name: string) => pathToFileURL(join(lists, name)).href;
    expect(await collect(manifestFilesOf(`${pathToFileURL(lists).href}/**`, undefined, undefined, [url('runs/')]))).toEqual([
      url('a.parquet'),
      url('b.txt'),
      url('c.URIS'),
      url('d.list'),
      url('dt=2026-12-01/part-0.lst'),
    ]);
    // A plain path works as the file URI does; without the exclusion the output's part file counts.
    expect(await collect(manifestFilesOf(`${lists}/**`))).toContain(url('runs/r0/part-00000.parquet'));
  });

  it('plans one unit per file, mixing text and Parquet, each in its own block of shard ids, leaving out an output inside the folder', async () => {
    writeText(join(lists, 'part-0.txt'), uris('f0', 5));
    writeParquet(join(lists, 'part-1.parquet'), uris('f1', 6));
    writeText(join(lists, 'sub', 'part-2.txt'), ['# a comment', ...uris('f2', 3)]);
    writeText(join(lists, '_SUCCESS'), []);
    writeText(join(lists, 'part-1.parquet.crc'), ['not a manifest']);
    const folder = openRunFolder({ output: { store: new LocalObjectStore(join(lists, 'out')), prefix: '' }, runId: 'r1' });
    // An output root inside the folder: its plan files (and later parts) are never manifests.
    writeParquet(join(lists, 'out', 'old-run', 'part-00000.parquet'), uris('old', 2));
    await planRun({ folder, spec: { ...spec(`file://${lists}/**`), output: pathToFileURL(join(lists, 'out')).href }, onShard: async () => undefined });
    const listing = (await folder.readListing())!;
    const block = unitShardsFor(3);
    expect(listing).toMatchObject({ units: 3, unitShards: block, objectsPlanned: 14, shardsPlanned: 5, complete: true });
    const objects = await planned(folder);
    expect(objects.map((o) => o.uri)).toEqual([...uris('f0', 5), ...uris('f1', 6), ...uris('f2', 3)]);
    expect([...new Set(objects.map((o) => o.shard))]).toEqual([0, 1, block, block + 1, 2 * block]);
    // The Parquet file's other column passes through; the text files have none.
    expect(objects.filter((o) => o.extra !== undefined).map((o) => o.extra)).toEqual(Array.from({ length: 6 }, (_, i) => [`caption ${i}`]));
    expect((await readPlanUnit(folder, 1))!).toMatchObject({ kind: 'manifest-file', file: pathToFileURL(join(lists, 'part-1.parquet')).href, cursor: '#6', complete: true });
    expect((await readPlanUnit(folder, 2))!).toMatchObject({ file: pathToFileURL(join(lists, 'sub', 'part-2.txt')).href, cursor: '#4' });
  });

  it('writes the same plans under the same shard ids as the equivalent glob', async () => {
    for (let f = 0; f < 3; f++) writeText(join(lists, `part-${f}.txt`), uris(`f${f}`, 5 + f));
    writeText(join(lists, '_SUCCESS'), []);
    const prefix = folderAt('prefix');
    const glob = folderAt('glob');
    await planRun({ folder: prefix, spec: spec(`file://${lists}/**`), onShard: async () => undefined });
    await planRun({ folder: glob, spec: spec(`file://${lists}/part-*.txt`), onShard: async () => undefined });
    const prefixListing = (await prefix.readListing())!;
    expect(prefixListing).toMatchObject({ units: 3, objectsPlanned: 18, complete: true });
    expect({ ...prefixListing, updatedAt: '' }).toEqual({ ...(await glob.readListing())!, updatedAt: '' });
    const shards = (await planned(prefix)).map((o) => o.shard);
    expect(await planned(prefix)).toEqual(await planned(glob));
    for (const shard of new Set(shards)) expect(await prefix.readPlan(shard)).toEqual(await glob.readPlan(shard));
  });

  it('resumes each unit from its own cursor and writes the same plans as an uninterrupted run', async () => {
    for (let f = 0; f < 3; f++) writeText(join(lists, `m${f}.${f === 1 ? 'lst' : 'txt'}`), uris(`f${f}`, 9));
    writeParquet(join(lists, 'm3.parquet'), uris('f3', 9));
    const whole = folderAt('whole');
    await planRun({ folder: whole, spec: spec(`file://${lists}/**`, 2), onShard: async () => undefined });

    const folder = folderAt('interrupted');
    const block = unitShardsFor(4);
    // The Parquet unit dies after its second shard; the others finish.
    await expect(
      planRun({
        folder,
        spec: spec(`file://${lists}/**`, 2),
        onShard: async (shard) => {
          if (shard === 3 * block + 1) throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');
    expect(await readPlanUnit(folder, 3)).toMatchObject({ complete: false, shardsPlanned: 2, cursor: '#4' });
    const resumed: number[] = [];
    await planRun({ folder, spec: spec(`file://${lists}/**`, 2), onShard: async (shard, info) => void (info.resumed ? undefined : resumed.push(shard)) });
    // Only the rest of the interrupted unit is planned anew, from its own cursor.
    expect(resumed).toEqual([3 * block + 2, 3 * block + 3, 3 * block + 4]);
    expect((await folder.readListing())!).toMatchObject({ units: 4, complete: true, objectsPlanned: 36 });
    expect(await planned(folder)).toEqual(await planned(whole));
  });

  it('is a configuration error when the folder holds no manifest, at the start check and in the planner', async () => {
    writeText(join(lists, '_SUCCESS'), []);
    writeText(join(lists, 'a.parquet.crc'), ['x']);
    await expect(checkSourceReadable(`${lists}/**`)).rejects.toThrow(/^no manifest file under file:\/\/.*\/lists\/ \(a prefix of manifests plans every \.txt/);
    await expect(checkSourceReadable(`${join(dir, 'missing')}/**`)).rejects.toThrow(/no manifest file under/);
    await expect(planRun({ folder: folderAt('empty'), spec: spec(`file://${lists}/**`), onShard: async () => undefined })).rejects.toThrow(/no manifest file under/);
    // A glob matching nothing says so too (the start check no longer looks for an object named part-*.txt).
    await expect(checkSourceReadable(`${lists}/part-*.txt`)).rejects.toThrow(/no file matches the manifest glob/);
    writeText(join(lists, 'part-0.txt'), ['s3://b/x.jpg']);
    await expect(checkSourceReadable(`${lists}/part-*.txt`)).resolves.toBeUndefined();
    await expect(checkSourceReadable(`${lists}/**`)).resolves.toBeUndefined();
  });
});

describe('a source of more manifests than a run may have planning units', () => {
  it('is refused at the first file too many, without writing the rest', async () => {
    const limit = Math.floor((MAX_SHARD + 1) / 2 ** 10);
    expect(() => unitShardsFor(limit + 1)).toThrow(/planning units/);
    // The listing of a folder of limit + 2 manifests, without making them.
    vi.mocked(manifestFilesOf).mockImplementationOnce(async function* () {
      for (let f = 0; f < limit + 2; f++) yield `file://${lists}/${String(f).padStart(6, '0')}.txt`;
    });
    // Unit objects counted, not written: the test is about when the split stops.
    let puts = 0;
    class CountingStore extends LocalObjectStore {
      override async put(): Promise<void> {
        puts++;
      }
    }
    const folder = openRunFolder({ output: { store: new CountingStore(join(dir, 'out', 'many')), prefix: '' }, runId: 'r1' });
    await expect(planRun({ folder, spec: spec(`file://${lists}/**`), onShard: async () => undefined })).rejects.toThrow(
      /names more files than a run may have planning units \(planning units must be an integer in \[1, 97656\], got 97657\)/,
    );
    expect(puts).toBe(limit);
  }, 60_000);
});

describe('--source-kind manifest (resolveManifestSource)', () => {
  it('turns a directory into <folder>/**, an S3 prefix by its trailing slash, and keeps manifest names as they are', async () => {
    expect(await resolveManifestSource(lists)).toMatchObject({ source: `${pathToFileURL(lists).href}/**` });
    expect(await resolveManifestSource(`${lists}/`)).toMatchObject({ source: `${pathToFileURL(lists).href}/**` });
    // No request: the trailing slash says prefix.
    expect(await resolveManifestSource('s3://bkt/lists/')).toMatchObject({ source: 's3://bkt/lists/**' });
    expect(await resolveManifestSource('s3://bkt')).toMatchObject({ source: 's3://bkt/**' });
    for (const source of ['s3://bkt/lists/m.txt', 's3://bkt/lists/part-*.parquet', 's3://bkt/lists/**']) expect(await resolveManifestSource(source)).toEqual({ source });
  });

  it('refuses a file whose name does not say manifest, a path that does not exist, and an inventory manifest.json', async () => {
    writeText(join(lists, 'uris'), ['s3://bkt/x.jpg']);
    await expect(resolveManifestSource(join(lists, 'uris'))).rejects.toThrow(/is a file whose name does not say it is a manifest/);
    await expect(resolveManifestSource(join(dir, 'missing'))).rejects.toThrow(/does not exist/);
    await expect(resolveManifestSource('s3://inv/reports/photos/daily/2026-12-06T01-00Z/manifest.json')).rejects.toThrow(/S3 Inventory report/);
  });
});
