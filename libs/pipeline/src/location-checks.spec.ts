import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkOutputWritable, checkSourceReadable } from './location-checks';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'location-checks-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('checks of sources and outputs at start', () => {
  it('accepts an existing directory and an existing manifest', async () => {
    writeFileSync(join(dir, 'list.txt'), 's3://bucket/a.jpg\n');
    await expect(checkSourceReadable(dir)).resolves.toBeUndefined();
    await expect(checkSourceReadable(join(dir, 'list.txt'))).resolves.toBeUndefined();
  });
  it('refuses a missing directory, a plain file and a missing manifest, naming them', async () => {
    await expect(checkSourceReadable(join(dir, 'nope'))).rejects.toThrow(/directory .*nope does not exist/);
    writeFileSync(join(dir, 'photo.jpg'), 'x');
    await expect(checkSourceReadable(join(dir, 'photo.jpg'))).rejects.toThrow(/neither a directory nor a manifest/);
    await expect(checkSourceReadable(join(dir, 'missing.parquet'))).rejects.toThrow(/manifest .*missing\.parquet does not exist/);
  });
  it('refuses http sources with what is accepted', async () => {
    await expect(checkSourceReadable('https://example.com/images/')).rejects.toThrow(/http\(s\).*s3:\/\/bucket\/prefix/s);
  });
  it('creates a local output root', async () => {
    await checkOutputWritable(join(dir, 'out', 'nested'));
    expect(existsSync(join(dir, 'out', 'nested'))).toBe(true);
  });
});
