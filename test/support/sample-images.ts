/**
 * Deterministic generated images for end-to-end tests: varied sizes, formats and content
 * (gradients, blocks and noise from a seeded PRNG), so that every image embeds differently.
 */
import sharp from 'sharp';

export interface SampleImage {
  name: string;
  bytes: Buffer;
}

function prng(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

export async function makeSampleImage(index: number): Promise<SampleImage> {
  const random = prng(index * 7919 + 17);
  const width = 24 + Math.floor(random() * 200);
  const height = 24 + Math.floor(random() * 180);
  const pixels = Buffer.alloc(width * height * 3);
  const [r0, g0, b0] = [random() * 255, random() * 255, random() * 255];
  const [r1, g1, b1] = [random() * 255, random() * 255, random() * 255];
  const blocks = Array.from({ length: 3 + Math.floor(random() * 5) }, () => ({
    x: Math.floor(random() * width),
    y: Math.floor(random() * height),
    w: 4 + Math.floor(random() * width * 0.5),
    h: 4 + Math.floor(random() * height * 0.5),
    c: [random() * 255, random() * 255, random() * 255],
  }));
  const noise = random() * 40;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = (x / width + y / height) / 2;
      let c = [r0 + (r1 - r0) * t, g0 + (g1 - g0) * t, b0 + (b1 - b0) * t];
      for (const block of blocks) {
        if (x >= block.x && x < block.x + block.w && y >= block.y && y < block.y + block.h) c = block.c;
      }
      const o = (y * width + x) * 3;
      for (let k = 0; k < 3; k++) pixels[o + k] = Math.max(0, Math.min(255, Math.round(c[k]! + (random() - 0.5) * noise)));
    }
  }
  const image = sharp(pixels, { raw: { width, height, channels: 3 } });
  const format = index % 3;
  const name = `img-${String(index).padStart(5, '0')}.${format === 0 ? 'jpg' : format === 1 ? 'png' : 'webp'}`;
  const bytes = format === 0 ? await image.jpeg({ quality: 85 }).toBuffer() : format === 1 ? await image.png().toBuffer() : await image.webp({ quality: 80 }).toBuffer();
  return { name, bytes };
}

/** Broken objects with the error code each must produce. */
export const BROKEN_OBJECTS: Array<{ name: string; bytes: Buffer; code: string }> = [
  { name: 'broken-empty.jpg', bytes: Buffer.alloc(0), code: 'empty_object' },
  { name: 'broken-html.jpg', bytes: Buffer.from('<!doctype html><html><body>not an image</body></html>'), code: 'unsupported_format' },
  { name: 'broken-text.png', bytes: Buffer.from('just some text, not a PNG at all\n'), code: 'unsupported_format' },
  {
    name: 'broken-truncated.jpg',
    // A JPEG cut inside its header: the SOI and part of a segment, no image data.
    bytes: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01]),
    code: 'decode_failed',
  },
];
