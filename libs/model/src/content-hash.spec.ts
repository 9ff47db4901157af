import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { computeContentHash, hashedFiles } from './content-hash';
import { copyTinyModel, removeDir, TINY_MODEL_DIR } from './testing/model-fixtures';

let scratch: string | undefined;
afterEach(async () => {
  if (scratch) await removeDir(scratch);
  scratch = undefined;
});

describe('content hash', () => {
  it('equals the export tool\'s hash recorded in the sidecar', async () => {
    const sidecar = JSON.parse(await readFile(join(TINY_MODEL_DIR, 'siglip-batch.json'), 'utf8')) as { content_hash: string };
    expect(await computeContentHash(TINY_MODEL_DIR)).toBe(sidecar.content_hash);
  });

  it('covers the three JSON files and everything under onnx/, sorted by path bytes', async () => {
    const files = await hashedFiles(TINY_MODEL_DIR);
    expect(files[0]).toBe('config.json');
    expect(files).toContain('tokenizer.json');
    expect(files).toContain('onnx/vision_model.onnx');
    expect(files).not.toContain('spiece.model');
    expect(files).not.toContain('siglip-batch.json');
    expect([...files].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))).toEqual(files);
  });

  it('changes when any hashed byte or file changes, and not for other files', async () => {
    scratch = await copyTinyModel();
    const before = await computeContentHash(scratch);
    await writeFile(join(scratch, 'spiece.model'), 'not hashed');
    expect(await computeContentHash(scratch)).toBe(before);
    await mkdir(join(scratch, 'onnx/extra'), { recursive: true });
    await writeFile(join(scratch, 'onnx/extra/weights.bin'), 'x');
    const withExtra = await computeContentHash(scratch);
    expect(withExtra).not.toBe(before);
    await writeFile(join(scratch, 'config.json'), (await readFile(join(scratch, 'config.json'), 'utf8')) + ' ');
    expect(await computeContentHash(scratch)).not.toBe(withExtra);
  });
});
