import { readdirSync, readFileSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { readJpegHeader } from './jpeg-header';

const dir = (name: string) => new URL(`../../../fixtures/${name}/`, import.meta.url);
const jpegs = ['images', 'images-broken'].flatMap((name) =>
  readdirSync(dir(name))
    .filter((file) => /\.jpe?g$/i.test(file))
    .map((file) => [`${name}/${file}`, readFileSync(new URL(file, dir(name)))] as const),
);

describe('readJpegHeader', () => {
  it('finds fixture JPEGs to compare', () => {
    expect(jpegs.length).toBeGreaterThanOrEqual(10);
  });

  it.each(jpegs)('agrees with sharp’s metadata or defers to it: %s', async (_name, bytes) => {
    const header = readJpegHeader(bytes);
    const metadata = bytes.length === 0 ? undefined : await sharp(bytes, { limitInputPixels: false }).metadata().catch(() => undefined);
    if (!header) return expect(header).toBeUndefined(); // sharp is asked instead: nothing to agree on
    expect(metadata, 'a header we read must be one sharp reads').toBeDefined();
    expect({ width: header.width, height: header.height, cmyk: header.components === 4, icc: header.hasIccProfile }).toEqual({
      width: metadata!.width,
      height: metadata!.height,
      cmyk: metadata!.space === 'cmyk',
      icc: metadata!.hasProfile === true,
    });
  });

  it('reads the CMYK and the ICC fixtures as such', () => {
    const read = (file: string) => readJpegHeader(readFileSync(new URL(file, dir('images'))));
    expect(read('retina_cmyk.jpg')?.components).toBe(4);
    expect(read('coffee_icc_p3.jpg')?.hasIccProfile).toBe(true);
    expect(read('astronaut_large_4000x3000.jpg')).toMatchObject({ width: 4000, height: 3000, components: 3 });
  });

  it('gives up on what is not a plain JPEG header', () => {
    expect(readJpegHeader(new Uint8Array([0xff, 0xd8, 0xff]))).toBeUndefined();
    expect(readJpegHeader(new Uint8Array([0x89, 0x50, 0x4e, 0x47]))).toBeUndefined();
    // a segment length running past the end
    expect(readJpegHeader(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x10, 0x00, 0x00]))).toBeUndefined();
    // scan before any frame header
    expect(readJpegHeader(new Uint8Array([0xff, 0xd8, 0xff, 0xda, 0x00, 0x02]))).toBeUndefined();
  });
});
