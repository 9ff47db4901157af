import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseLocation } from '@siglip-batch/io';
import { excludedFolders, listSource } from './source-lister';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function listed(source: string, exclude: string[]): Promise<string[]> {
  const listing = await listSource(source, { kind: 'file', after: null, suffixes: [], exclude });
  const uris: string[] = [];
  for await (const entry of listing.entries) uris.push(entry.object.uri.slice(parseLocation(source).uri.length + 1));
  return uris;
}

describe('listSource: output folders inside the source', () => {
  it('skips the output root and the run folder when they lie inside the source', async () => {
    const source = mkdtempSync(join(tmpdir(), 'lister-'));
    dirs.push(source);
    for (const name of ['a.jpg', 'out-of-band.jpg', 'out/r1/part-00000000.parquet', 'out/r1/_plan/00000000.json', 'out/_index/x.parquet', 'sub/b.png']) {
      mkdirSync(join(source, name, '..'), { recursive: true });
      writeFileSync(join(source, name), 'x');
    }
    const out = parseLocation(join(source, 'out')).uri;
    expect(await listed(source, [out, `${out}/r1/`])).toEqual(['a.jpg', 'out-of-band.jpg', 'sub/b.png']);
    expect(await listed(source, [])).toHaveLength(6);
  });

  it('never excludes the source itself or a folder holding it', () => {
    expect(excludedFolders('s3://bkt/data/images/', ['s3://bkt/data', 's3://bkt/data/images', 's3://bkt/data/images/out', 's3://other/data/images/x'])).toEqual([
      's3://bkt/data/images/out/',
    ]);
  });
});
