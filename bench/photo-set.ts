import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

/** Real fixture photos used as sources (the synthetic 1×1 / 3-pixel-thin / 64-px crops are not photos). */
const NOT_PHOTOS = /pixel_1x1|thin_|crop_64x64|crop_100x300|animated|grey16|rgb16|cmyk/;
const LONG_SIDES = [320, 512, 800, 1024, 1600] as const;

/** mulberry32: a small seeded PRNG, so the photo set is the same on every machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` JPEG variants of the real fixture photos (random crop 60–100 % per side, horizontal
 * flip half the time, longest side 320–1600 px, quality 80–92), made deterministically into
 * `dir` (git-ignored). Returns the file names, sorted. Existing files are kept.
 */
export async function makePhotoSet(imagesDir: string, dir: string, count: number): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const sources = readdirSync(imagesDir)
    .filter((f) => !NOT_PHOTOS.test(f))
    .sort();
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `photo-${String(i).padStart(4, '0')}.jpg`;
    names.push(name);
    if (existsSync(join(dir, name))) continue;
    const random = prng(i + 1);
    const source = readFileSync(join(imagesDir, sources[i % sources.length]!));
    const oriented = await sharp(source, { pages: 1 }).rotate().removeAlpha().toColourspace('srgb').png().toBuffer({ resolveWithObject: true });
    const { width, height } = oriented.info;
    const cw = Math.max(16, Math.round(width * (0.6 + 0.4 * random())));
    const ch = Math.max(16, Math.round(height * (0.6 + 0.4 * random())));
    const left = Math.floor((width - cw) * random());
    const top = Math.floor((height - ch) * random());
    const longSide = LONG_SIDES[Math.floor(random() * LONG_SIDES.length)]!;
    const scale = longSide / Math.max(cw, ch);
    let image = sharp(oriented.data).extract({ left, top, width: cw, height: ch });
    if (random() < 0.5) image = image.flop();
    const jpeg = await image
      .resize(Math.max(1, Math.round(cw * scale)), Math.max(1, Math.round(ch * scale)), { fit: 'fill' })
      .jpeg({ quality: 80 + Math.floor(random() * 13) })
      .toBuffer();
    writeFileSync(join(dir, name), jpeg);
  }
  return names;
}
