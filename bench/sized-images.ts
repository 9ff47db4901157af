import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

/** Real fixture photos used as sources (the synthetic 1×1 / 3-pixel-thin / 64-px crops are not photos). */
const NOT_PHOTOS = /pixel_1x1|thin_|crop_64x64|crop_100x300|crop_300x120|animated|grey16|rgb16|cmyk/;

/** One size class of the CPU-per-image bench: a format at a number of megapixels. */
export interface SizeClass {
  readonly name: string;
  readonly format: 'jpeg' | 'png' | 'webp';
  readonly megapixels: number;
}

/** JPEGs of 0.3, 2, 12 and 24 MP (phone photos are 12–24 MP), PNG and WebP at 2 MP. */
export const SIZE_CLASSES: readonly SizeClass[] = [
  { name: 'JPEG 0.3 MP', format: 'jpeg', megapixels: 0.3 },
  { name: 'JPEG 2 MP', format: 'jpeg', megapixels: 2 },
  { name: 'JPEG 12 MP', format: 'jpeg', megapixels: 12 },
  { name: 'JPEG 24 MP', format: 'jpeg', megapixels: 24 },
  { name: 'PNG 2 MP', format: 'png', megapixels: 2 },
  { name: 'WebP 2 MP', format: 'webp', megapixels: 2 },
];

/** The folder name of a class inside the sized set (`jpeg-12mp` …). */
export const classDir = (size: SizeClass) => `${size.format}-${String(size.megapixels).replace('.', '_')}mp`;

/**
 * `count` images per size class (at most one per fixture subject: 10), made deterministically
 * from the fixture photos
 * (EXIF orientation applied, sRGB, aspect ratio kept, scaled with sharp's Lanczos to the class's
 * megapixels; JPEG quality 90, PNG compression 6, WebP quality 90) into `dir/<class>/`
 * (git-ignored). Existing files are kept. Returns, per class, the file paths, sorted.
 */
export async function makeSizedImages(imagesDir: string, dir: string, count: number): Promise<Map<SizeClass, string[]>> {
  const sources = readdirSync(imagesDir)
    .filter((f) => /\.(jpe?g|png|webp)$/i.test(f) && !NOT_PHOTOS.test(f))
    .sort()
    // One per subject (the fixtures hold several variants of the same photo).
    .filter((f, i, all) => all.findIndex((g) => g.split(/[_.]/)[0] === f.split(/[_.]/)[0]) === i)
    .slice(0, count);
  const result = new Map<SizeClass, string[]>();
  for (const size of SIZE_CLASSES) {
    const folder = join(dir, classDir(size));
    mkdirSync(folder, { recursive: true });
    const paths: string[] = [];
    for (const [i, source] of sources.entries()) {
      const path = join(folder, `${String(i).padStart(2, '0')}-${source.replace(/\.\w+$/, '')}.${size.format === 'jpeg' ? 'jpg' : size.format}`);
      paths.push(path);
      if (existsSync(path)) continue;
      const oriented = await sharp(readFileSync(join(imagesDir, source)), { pages: 1 }).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
      const { width, height } = oriented.info;
      const scale = Math.sqrt((size.megapixels * 1e6) / (width * height));
      const image = sharp(oriented.data, { raw: { width, height, channels: oriented.info.channels } }).resize(
        Math.max(1, Math.round(width * scale)),
        Math.max(1, Math.round(height * scale)),
        { fit: 'fill', kernel: 'lanczos3' },
      );
      const encoded = size.format === 'jpeg' ? image.jpeg({ quality: 90 }) : size.format === 'png' ? image.png({ compressionLevel: 6 }) : image.webp({ quality: 90 });
      writeFileSync(path, await encoded.toBuffer());
    }
    result.set(size, paths);
  }
  return result;
}
