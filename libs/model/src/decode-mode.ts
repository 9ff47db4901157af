import type * as Crypto from 'node:crypto';
import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';

/**
 * How images are decoded before the Pillow resampler.
 *
 * - `exact` (the default): every image at its full resolution, as PIL decodes it — the pixels
 *   transformers' processor sees.
 * - `fast`: a JPEG is decoded straight to 1/2, 1/4 or 1/8 of its size in the DCT domain
 *   (libjpeg's scaled decoding, through libvips' JPEG loader), a WebP through libwebp's scaled
 *   decoding, keeping at least `reducingGap` times the model's input size on both sides; then
 *   the same Pillow BICUBIC resize to the model's size. For a JPEG this is exactly what Pillow
 *   computes for `im.draft('RGB', (int(w·gap), int(h·gap)))` followed by
 *   `im.resize((w, h), BICUBIC)` — the decode step of `Image.thumbnail(…, reducing_gap=gap)`.
 *   Other formats (PNG, GIF, TIFF, …) have no scaled decoding: fast is exact for them.
 */
export type DecodeMode = { readonly mode: 'exact' } | { readonly mode: 'fast'; readonly reducingGap: number };

export const DECODE_MODES = ['exact', 'fast'] as const;
/** Pillow's default `reducing_gap` for `Image.thumbnail`. */
export const DEFAULT_REDUCING_GAP = 2;
export const EXACT_DECODE: DecodeMode = Object.freeze({ mode: 'exact' });

/** A decode mode from its parts, refusing a gap below 1 (which would shrink below the model's size). */
export function decodeMode(mode: 'exact' | 'fast', reducingGap: number = DEFAULT_REDUCING_GAP): DecodeMode {
  if (mode === 'exact') return EXACT_DECODE;
  if (!Number.isFinite(reducingGap) || reducingGap < 1) {
    throw new RangeError(`the reducing gap must be a number ≥ 1 (the decoded image keeps at least that many times the model's size), got ${reducingGap}`);
  }
  return { mode: 'fast', reducingGap };
}

/** `exact`, or `fast(gap=2)`: how a mode is shown in logs and file metadata. */
export function describeDecodeMode(decode: DecodeMode): string {
  return decode.mode === 'exact' ? 'exact' : `fast(gap=${decode.reducingGap})`;
}

/**
 * The scaled-decode factor (1, 2, 4 or 8) for a `width × height` stored image and a
 * `modelWidth × modelHeight` model input: the largest factor that leaves both sides at least
 * `⌊gap · model side⌋`. This is Pillow's `JpegImageFile.draft` rule for the size
 * `(int(w·gap), int(h·gap))`, made independent of EXIF rotation (the stored size is compared
 * with the model's longer side on both axes; for the square SigLIP inputs it is Pillow's rule).
 */
export function scaledDecodeFactor(width: number, height: number, modelWidth: number, modelHeight: number, reducingGap: number): 1 | 2 | 4 | 8 {
  const required = Math.max(1, Math.floor(Math.max(modelWidth, modelHeight) * reducingGap));
  const scale = Math.floor(Math.min(width, height) / required);
  return scale >= 8 ? 8 : scale >= 4 ? 4 : scale >= 2 ? 2 : 1;
}

let scratchDir: string | undefined;
let counter = 0;
// node:crypto on first use (fast decodes only): ~5 ms of each preprocessing thread's start-up.
const requireBuiltin = createRequire(import.meta.url);
let randomBytes: typeof Crypto.randomBytes | undefined;

/**
 * A unique path for one image's bytes on the way to libvips' scaled decoding. libvips takes
 * the JPEG loader's `shrink` (and the WebP loader's `scale`) from a file name's `[…]` suffix
 * only: sharp passes no load options for an in-memory buffer. `/dev/shm` (memory) when the
 * machine has it, else the OS's temporary folder. The caller removes the file.
 */
export function scratchImagePath(extension: string): string {
  scratchDir ??= pickScratchDir();
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  randomBytes ??= (requireBuiltin('node:crypto') as typeof Crypto).randomBytes;
  return join(scratchDir, `siglip-batch-${process.pid}-${threadId}-${counter}-${randomBytes(4).toString('hex')}.${extension}`);
}

function pickScratchDir(): string {
  try {
    if (statSync('/dev/shm').isDirectory()) {
      accessSync('/dev/shm', constants.W_OK);
      return '/dev/shm';
    }
  } catch {
    // no shared memory folder: the temporary folder below
  }
  return tmpdir();
}
