import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceAccess, sourceScopeOf } from './source-access';

const file = (path: string) => pathToFileURL(path).href;

describe('sourceScopeOf', () => {
  it('is the listed prefix or directory, or the folder a manifest is in', () => {
    expect(sourceScopeOf({ source: 's3://bkt/img', sourceKind: 's3' }).uri).toBe('s3://bkt/img/');
    expect(sourceScopeOf({ source: 's3://bkt/', sourceKind: 's3' }).uri).toBe('s3://bkt/');
    expect(sourceScopeOf({ source: 's3://bkt/lists/m.txt', sourceKind: 'manifest-text' }).uri).toBe('s3://bkt/lists/');
    expect(sourceScopeOf({ source: 's3://bkt/m.parquet', sourceKind: 'manifest-parquet' }).uri).toBe('s3://bkt/');
    expect(sourceScopeOf({ source: '/data/images', sourceKind: 'file' }).uri).toBe('file:///data/images');
    expect(sourceScopeOf({ source: '/data/lists/m.txt', sourceKind: 'manifest-text' }).uri).toBe('file:///data/lists');
  });

  it("is, for a retry of a run's errors, the scope of the source its objects came from, never the run folder", async () => {
    const retry = { source: 's3://bkt/out/r1/', sourceKind: 'errors' as const };
    const objectsOf = (objectSource: string, objectSourceKind: 's3' | 'manifest-text') => ({ ...retry, retryErrors: { codes: null, objectSource, objectSourceKind } });
    expect(sourceScopeOf(objectsOf('s3://bkt/img', 's3')).uri).toBe('s3://bkt/img/');
    expect(sourceScopeOf(objectsOf('s3://bkt/lists/m.txt', 'manifest-text')).uri).toBe('s3://bkt/lists/');
    expect(() => sourceScopeOf(retry)).toThrow(/does not say which objects it holds/);
    // A retry of an S3 manifest's errors reads S3 objects only, as the manifest's run did.
    const access = new SourceAccess(objectsOf('s3://bkt/lists/m.txt', 'manifest-text'), { roots: ['s3://bkt/lists/', '/'], widenHint: '' });
    expect(await access.check('file:///etc/passwd')).toMatchObject({ ok: false, code: 'invalid_uri' });
  });
});

describe('SourceAccess: S3', () => {
  const access = new SourceAccess({ source: 's3://bkt/img/', sourceKind: 's3' }, { roots: ['s3://bkt/img'], widenHint: 'use --allow' });

  it('allows keys under a root, compared by whole segments, and refuses the rest as not_allowed rows', async () => {
    expect(await access.check('s3://bkt/img/a.png')).toEqual({ ok: true, readUri: 's3://bkt/img/a.png' });
    const refused = await access.check('s3://bkt/img-old/a.png');
    expect(refused).toMatchObject({ ok: false, code: 'not_allowed' });
    expect((refused as { message: string }).message).toMatch(/s3:\/\/bkt\/img-old\/a\.png is outside .*s3:\/\/bkt\/img.*; use --allow$/);
    expect(await access.check('s3://other/img/a.png')).toMatchObject({ ok: false, code: 'not_allowed' });
  });

  it('reads a key holding .. as the literal key it is, not as a step up', async () => {
    expect(await access.check('s3://bkt/img/sub/../x.png')).toEqual({ ok: true, readUri: 's3://bkt/img/sub/../x.png' });
    // Literal: `img/../secret.png` is a key under img/ (S3 has no path semantics), read as such.
    expect(await access.check('s3://bkt/img/../secret.png')).toEqual({ ok: true, readUri: 's3://bkt/img/../secret.png' });
    expect(await access.check('s3://bkt/secret/../img/x.png')).toMatchObject({ ok: false, code: 'not_allowed' });
  });

  it('makes an unparsable URI an invalid_uri row', async () => {
    expect(await access.check('http://b/img/a.png')).toMatchObject({ ok: false, code: 'invalid_uri' });
  });
});

describe('SourceAccess: a manifest in S3 names S3 objects only', () => {
  const access = new SourceAccess({ source: 's3://bkt/lists/m.txt', sourceKind: 'manifest-text' }, { roots: ['s3://bkt/', 'file:///'], widenHint: '' });

  it.each(['/home/app/private.png', 'file:///home/app/private.png', 'file://localhost/etc/passwd', 'private.png'])(
    '%s is an invalid_uri row even where local files are allowed',
    async (uri) => {
      const decision = await access.check(uri);
      expect(decision).toMatchObject({ ok: false, code: 'invalid_uri' });
    },
  );

  it('reads its S3 objects', async () => {
    expect(await access.check('s3://bkt/lists/img/a.png')).toEqual({ ok: true, readUri: 's3://bkt/lists/img/a.png' });
  });
});

describe('SourceAccess: local files, through their symlinks', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'source-access-'));
    mkdirSync(join(dir, 'src', 'sub'), { recursive: true });
    writeFileSync(join(dir, 'src', 'a.png'), 'a');
    writeFileSync(join(dir, 'private.png'), 'secret');
    symlinkSync(join(dir, 'private.png'), join(dir, 'src', 'escape.png'));
    symlinkSync(join(dir, 'src', 'a.png'), join(dir, 'src', 'sub', 'inside.png'));
    symlinkSync(join(dir, 'nowhere.png'), join(dir, 'src', 'dangling.png'));
    symlinkSync(join(dir, 'src'), join(dir, 'linked-src'));
    symlinkSync(join(dir, 'loop-b'), join(dir, 'src', 'loop-a'));
    symlinkSync(join(dir, 'src', 'loop-a'), join(dir, 'loop-b'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const accessTo = (root: string) => new SourceAccess({ source: root, sourceKind: 'file' }, { roots: [file(root)], widenHint: 'use --allow' });

  it('reads a file under the root at its real path', async () => {
    expect(await accessTo(join(dir, 'src')).check(file(join(dir, 'src', 'a.png')))).toEqual({ ok: true, readUri: file(join(dir, 'src', 'a.png')) });
    expect(await accessTo(join(dir, 'src')).check(file(join(dir, 'src', 'sub', 'inside.png')))).toEqual({ ok: true, readUri: file(join(dir, 'src', 'a.png')) });
  });

  it('refuses a symlink inside the root that leads outside it, naming where it leads', async () => {
    const decision = await accessTo(join(dir, 'src')).check(file(join(dir, 'src', 'escape.png')));
    expect(decision).toMatchObject({ ok: false, code: 'not_allowed' });
    expect((decision as { message: string }).message).toContain(`really ${file(join(dir, 'private.png'))}`);
  });

  it('refuses paths that climb out with .. and files outside the root', async () => {
    expect(await accessTo(join(dir, 'src')).check(file(join(dir, 'src')) + '/../private.png')).toMatchObject({ ok: false, code: 'not_allowed' });
    expect(await accessTo(join(dir, 'src')).check(join(dir, 'private.png'))).toMatchObject({ ok: false, code: 'not_allowed' });
  });

  it('a root that is itself a symlink allows what it leads to', async () => {
    expect(await accessTo(join(dir, 'linked-src')).check(file(join(dir, 'src', 'a.png')))).toMatchObject({ ok: true });
    expect(await accessTo(join(dir, 'linked-src')).check(file(join(dir, 'linked-src', 'a.png')))).toEqual({ ok: true, readUri: file(join(dir, 'src', 'a.png')) });
  });

  it('a missing file is not_found inside the root (never opened) and not_allowed outside it', async () => {
    expect(await accessTo(join(dir, 'src')).check(file(join(dir, 'src', 'gone.png')))).toMatchObject({ ok: false, code: 'not_found' });
    expect(await accessTo(join(dir, 'src')).check(file(join(dir, 'src', 'dangling.png')))).toMatchObject({ ok: false, code: 'not_found' });
    expect(await accessTo(join(dir, 'src')).check(file(join(dir, 'gone.png')))).toMatchObject({ ok: false, code: 'not_allowed' });
  });

  it('refuses a symlink loop as a row', async () => {
    expect(await accessTo(join(dir, 'src')).check(file(join(dir, 'src', 'loop-a')))).toMatchObject({ ok: false, code: 'not_allowed' });
  });

  it('with no roots, reads nothing', async () => {
    const none = new SourceAccess({ source: join(dir, 'src'), sourceKind: 'file' }, { roots: [], widenHint: 'use --allow' });
    expect(await none.check(file(join(dir, 'src', 'a.png')))).toMatchObject({ ok: false, code: 'not_allowed' });
    expect(none.describe()).toBe('(nothing)');
  });
});
