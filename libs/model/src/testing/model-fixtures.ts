/** Paths of the committed fixtures and helpers that build broken model directories from them. */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const TINY_MODEL_DIR = join(REPO_ROOT, 'fixtures/models/tiny-siglip');
export const TINY_REFERENCE_DIR = join(REPO_ROOT, 'fixtures/reference/tiny-siglip');
export const IMAGES_DIR = join(REPO_ROOT, 'fixtures/images');
export const BROKEN_IMAGES_DIR = join(REPO_ROOT, 'fixtures/images-broken');
export const LIB_FIXTURES_DIR = join(REPO_ROOT, 'libs/model/test-fixtures');

/** A private copy of the tiny model to break; remove it with `removeDir`. */
export async function copyTinyModel(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'siglip-model-'));
  await cp(TINY_MODEL_DIR, dir, { recursive: true });
  return dir;
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
