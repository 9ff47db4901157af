import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { realPathOf } from './real-path';

describe('realPathOf', () => {
  let dir: string;
  beforeAll(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'real-path-')));
    mkdirSync(join(dir, 'a'));
    writeFileSync(join(dir, 'a', 'f.png'), 'x');
    symlinkSync(join(dir, 'a', 'f.png'), join(dir, 'link.png'));
    symlinkSync(join(dir, 'a'), join(dir, 'dir-link'));
    symlinkSync(join(dir, 'missing-target'), join(dir, 'dangling'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('resolves symlinks to files and through directories', async () => {
    expect(await realPathOf(join(dir, 'link.png'))).toEqual({ path: join(dir, 'a', 'f.png'), exists: true });
    expect(await realPathOf(join(dir, 'dir-link', 'f.png'))).toEqual({ path: join(dir, 'a', 'f.png'), exists: true });
  });

  test('for what is not there, resolves the deepest ancestor that is', async () => {
    expect(await realPathOf(join(dir, 'dir-link', 'nope', 'x.png'))).toEqual({ path: join(dir, 'a', 'nope', 'x.png'), exists: false });
    expect(await realPathOf(join(dir, 'dangling'))).toEqual({ path: join(dir, 'dangling'), exists: false });
    expect(await realPathOf(join(dir, 'a', 'f.png', 'under-a-file'))).toEqual({ path: join(dir, 'a', 'f.png', 'under-a-file'), exists: false });
  });
});
