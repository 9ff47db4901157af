import { describe, expect, test } from 'vitest';
import { ACCEPTED_URIS, InvalidUriError } from './invalid-uri-error';
import { folderOf, isWithin, parseLocation } from './location';

describe('parseLocation: accepted', () => {
  test.each([
    ['s3://bucket/images/2024/', { kind: 's3', bucket: 'bucket', prefix: 'images/2024/', uri: 's3://bucket/images/2024/' }],
    ['s3://bucket/images', { kind: 's3', bucket: 'bucket', prefix: 'images', uri: 's3://bucket/images' }],
    ['s3://my.bucket-1', { kind: 's3', bucket: 'my.bucket-1', prefix: '', uri: 's3://my.bucket-1/' }],
    ['S3://bucket/key with space.jpg', { kind: 's3', bucket: 'bucket', prefix: 'key with space.jpg', uri: 's3://bucket/key with space.jpg' }],
    ['file:///data/images', { kind: 'file', root: '/data/images', prefix: '', uri: 'file:///data/images' }],
    ['file:///data/images/', { kind: 'file', root: '/data/images', prefix: '', uri: 'file:///data/images' }],
    ['file://localhost/data/x', { kind: 'file', root: '/data/x', prefix: '', uri: 'file:///data/x' }],
    ['file:///data/my%20images/%23a', { kind: 'file', root: '/data/my images/#a', prefix: '', uri: 'file:///data/my%20images/%23a' }],
    ['/data/my images', { kind: 'file', root: '/data/my images', prefix: '', uri: 'file:///data/my%20images' }],
    ['/data/a/../b/', { kind: 'file', root: '/data/b', prefix: '', uri: 'file:///data/b' }],
  ])('%s', (uri, expected) => {
    expect(parseLocation(uri)).toEqual(expected);
  });

  test('relative plain paths are made absolute (against cwd, or baseDir)', () => {
    expect(parseLocation('images', { baseDir: '/srv/run' })).toMatchObject({ kind: 'file', root: '/srv/run/images' });
    expect(parseLocation('./a:b', { baseDir: '/srv' })).toMatchObject({ kind: 'file', root: '/srv/a:b' });
    expect(parseLocation('images')).toMatchObject({ kind: 'file', root: `${process.cwd()}/images` });
  });
});

describe('parseLocation: refused, with a message that says what is accepted', () => {
  test.each([
    ['http://example.com/images/', /http\(s\) URLs are not read/],
    ['https://bucket.s3.amazonaws.com/x.jpg', /http\(s\) URLs are not read/],
    ['gs://bucket/images', /the scheme "gs:" is not supported/],
    ['az://container/x', /the scheme "az:" is not supported/],
    ['ftp://host/x', /the scheme "ftp:" is not supported/],
    ['file:relative/path', /file:\/\/\/absolute\/path/],
    ['file:/abs/one-slash', /file:\/\/\/absolute\/path/],
    ['file://otherhost/share/x', /another host/],
    ['file:///data/x?query', /query or fragment/],
    ['s3://', /bucket name is missing/],
    ['s3:///key', /bucket name is missing/],
    ['s3:bucket/key', /s3:\/\/bucket\/prefix/],
    ['s3://b/key', /not a valid bucket name/],
    ['s3://Bad_Bucket!/x', /not a valid bucket name/],
    ['', /empty URI/],
    ['   ', /empty URI/],
    ['c:relative', /the scheme "c:" is not supported/],
  ])('%s', (uri, reason) => {
    let error: unknown;
    try {
      parseLocation(uri);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidUriError);
    expect((error as Error).message).toMatch(reason);
    expect((error as Error).message).toContain(ACCEPTED_URIS);
    expect((error as InvalidUriError).uri).toBe(uri);
  });
});

describe('S3 keys have no path semantics', () => {
  test('a key holding .. or . is kept as the literal key', () => {
    expect(parseLocation('s3://bucket/img/sub/../x.png')).toEqual({ kind: 's3', bucket: 'bucket', prefix: 'img/sub/../x.png', uri: 's3://bucket/img/sub/../x.png' });
    expect(parseLocation('s3://bucket/./a//b')).toMatchObject({ prefix: './a//b' });
  });
});

describe('isWithin and folderOf', () => {
  test('S3: same bucket, whole segments, keys compared as strings', () => {
    const root = parseLocation('s3://bucket/img');
    expect(isWithin(parseLocation('s3://bucket/img/a.png'), root)).toBe(true);
    expect(isWithin(parseLocation('s3://bucket/img/sub/../x.png'), root)).toBe(true);
    expect(isWithin(parseLocation('s3://bucket/img-old/a.png'), root)).toBe(false);
    expect(isWithin(parseLocation('s3://other/img/a.png'), root)).toBe(false);
    expect(isWithin(parseLocation('s3://bucket/x.png'), parseLocation('s3://bucket'))).toBe(true);
  });

  test('files: whole segments of normalised paths; a file is never within an S3 root', () => {
    const root = parseLocation('/data/images');
    expect(isWithin(parseLocation('/data/images/a/b.png'), root)).toBe(true);
    expect(isWithin(parseLocation('/data/images'), root)).toBe(true);
    expect(isWithin(parseLocation('/data/imagesX/b.png'), root)).toBe(false);
    expect(isWithin(parseLocation('/data/images/../secret.png'), root)).toBe(false);
    expect(isWithin(parseLocation('/etc/passwd'), parseLocation('/'))).toBe(true);
    expect(isWithin(parseLocation('/data/images/a.png'), parseLocation('s3://bucket/'))).toBe(false);
  });

  test('folderOf names the folder an object is in', () => {
    expect(folderOf(parseLocation('s3://bucket/lists/m.txt')).uri).toBe('s3://bucket/lists/');
    expect(folderOf(parseLocation('s3://bucket/m.txt')).uri).toBe('s3://bucket/');
    expect(folderOf(parseLocation('/data/lists/m.txt')).uri).toBe('file:///data/lists');
  });
});
