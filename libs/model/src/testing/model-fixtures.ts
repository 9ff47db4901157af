/** Paths of the committed fixtures and helpers that build broken model directories from them. */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const TINY_MODEL_DIR = join(REPO_ROOT, 'fixtures/models/tiny-siglip');
export const TINY_REFERENCE_DIR = join(REPO_ROOT, 'fixtures/reference/tiny-siglip');

/** A committed random model and the transformers reference computed for it. */
export interface FamilyFixture {
  readonly name: string;
  readonly modelDir: string;
  readonly referenceDir: string;
}
export const TINY_SIGLIP: FamilyFixture = { name: 'tiny-siglip', modelDir: TINY_MODEL_DIR, referenceDir: TINY_REFERENCE_DIR };
/** SigLIP 2 (fixed resolution): Gemma BPE tokenizer, 64 text positions. */
export const TINY_SIGLIP2: FamilyFixture = {
  name: 'tiny-siglip2',
  modelDir: join(REPO_ROOT, 'fixtures/models/tiny-siglip2'),
  referenceDir: join(REPO_ROOT, 'fixtures/reference/tiny-siglip2'),
};
/** Multilingual SigLIP's geometry: 256 px, patch 16, 64 text positions, multilingual unigram vocabulary. */
export const TINY_MULTILINGUAL: FamilyFixture = {
  name: 'tiny-multilingual',
  modelDir: join(REPO_ROOT, 'fixtures/models/tiny-multilingual'),
  referenceDir: join(REPO_ROOT, 'fixtures/reference/tiny-multilingual'),
};
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
