import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEMO_FILES, DEMO_MODEL, packageRoot } from './demo-command';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));

describe('siglip-batch demo', () => {
  it('finds the package root above its module (a checkout here), and refuses a folder outside any', () => {
    expect(join(packageRoot(), '/')).toBe(REPO);
    expect(() => packageRoot('/nonexistent/dir/file.mjs')).toThrow(/cannot find the siglip-batch package above/);
  });

  it('uses files the checkout has and the package ships (package.json files)', () => {
    const files = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { files: string[] }).files;
    for (const file of [...DEMO_FILES, DEMO_MODEL]) {
      expect(existsSync(join(REPO, file)), file).toBe(true);
      expect(files.some((entry) => entry === file || (entry.endsWith('/') && `${file}/`.startsWith(entry))), `package.json files ships ${file}`).toBe(true);
    }
  });
});
