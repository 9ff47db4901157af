import { unlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type SharpModule from 'sharp';
import type { Metadata, OutputInfo, Sharp, SharpOptions } from 'sharp';
import { EXACT_DECODE, scaledDecodeFactor, scratchImagePath, type DecodeMode } from './decode-mode';
import { normalizeRgbInto } from './resized-batch';
import { ImageError } from './image-error';
import { describeUnknownBytes, SHARP_FORMAT, sniffImageFormat, type ImageFormat } from './image-format';
import { readJpegHeader } from './jpeg-header';
import { checkImageSize, DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE } from './image-size-limits';
import { resizeBicubic, resizeBicubicNormalizedInto, type SourceExtent } from './pillow-resample';

/**
 * What the model's image processor does to pixels (read from `preprocessor_config.json` by
 * `loadModelDir`; SigLIP: 224×224, rescale 1/255, mean = std = 0.5).
 */
export interface ImagePreprocessConfig {
  /** Output height in pixels (`size.height`). */
  readonly height: number;
  /** Output width in pixels (`size.width`). */
  readonly width: number;
  /** Whether values are multiplied by `rescaleFactor` (`do_rescale`). */
  readonly doRescale: boolean;
  /** `rescale_factor`, 1/255 for SigLIP. */
  readonly rescaleFactor: number;
  /** Whether `(x − mean) / std` is applied (`do_normalize`). */
  readonly doNormalize: boolean;
  /** Per-channel mean, RGB order (`image_mean`). */
  readonly mean: readonly [number, number, number];
  /** Per-channel standard deviation, RGB order (`image_std`). */
  readonly std: readonly [number, number, number];
}

export interface ImagePreprocessorOptions {
  /**
   * Largest `width × height` (of one frame) that is decoded. Larger images are refused from
   * their header alone, before any pixel is decoded (decompression bombs), with
   * `too_large_pixels`.
   * @defaultValue 100_000_000
   */
  readonly maxPixels?: number;
  /**
   * Largest width and largest height that is decoded, checked from the header like
   * `maxPixels` (`too_large_pixels`): the resampler's tables grow with a side's length, so
   * a 100,000,000 × 1 image, within the pixel limit, would otherwise need gigabytes.
   * @defaultValue 65_535
   */
  readonly maxSide?: number;
  /**
   * `exact` decodes every image at full resolution, as PIL does; `fast` decodes JPEG and WebP
   * at 1/2, 1/4 or 1/8 scale, keeping `reducingGap` × the model's size (see `DecodeMode`).
   * @defaultValue `{ mode: 'exact' }`
   */
  readonly decode?: DecodeMode;
}

/** An image decoded to 8-bit RGB, EXIF orientation applied. */
export interface DecodedImage {
  /** Interleaved RGB, row-major, `width × height × 3` bytes. */
  readonly rgb: Uint8Array;
  /** Width after EXIF orientation. */
  readonly width: number;
  /** Height after EXIF orientation. */
  readonly height: number;
  /** The container format. */
  readonly format: ImageFormat;
  /**
   * After a scaled JPEG decode (`fast`): the part of the image the pixels stand for, in decoded
   * pixels — `stored size / factor`, which libvips rounds down to whole pixels where libjpeg
   * keeps a partial last one. The resize maps this box, as Pillow resizes the box `draft()`
   * returns. Absent: the whole image.
   */
  readonly extent?: SourceExtent;
}

/** One image ready for the vision model. */
export interface PreprocessedImage {
  /** `3 × H × W` float32, channels first, normalised. */
  readonly pixels: Float32Array;
  /** Width of the source image after EXIF orientation. */
  readonly width: number;
  /** Height of the source image after EXIF orientation. */
  readonly height: number;
}

/**
 * One image resized but not yet normalised: `H × W × 3` interleaved uint8 RGB (step 4's output), a
 * quarter of {@link PreprocessedImage}'s bytes. The inference thread normalises a batch of these
 * through {@link normalizationTables} (the same floats as `preprocess`).
 */
export interface ResizedImage {
  readonly rgb: Uint8Array;
  /** Width of the source image after EXIF orientation. */
  readonly width: number;
  /** Height of the source image after EXIF orientation. */
  readonly height: number;
}

export { DEFAULT_MAX_PIXELS } from './image-size-limits';

const requireSharp = createRequire(import.meta.url);
let loadedSharp: typeof SharpModule | undefined;

/**
 * sharp (libvips), loaded on first use rather than at import: ~0.15–0.2 s of a process's
 * start-up, and a process whose images are preprocessed on the pool's threads (the worker,
 * `embed`) never decodes on its main thread. The same CommonJS instance as `import sharp`.
 */
export function loadSharp(): typeof SharpModule {
  if (!loadedSharp) {
    loadedSharp = requireSharp('sharp') as typeof SharpModule;
    // libvips' operation cache (process-wide) keeps recent operations to reuse their results;
    // every image here is new bytes, so it only costs time (~4 % of preprocessing) and memory.
    loadedSharp.cache(false);
  }
  return loadedSharp;
}

function sharp(input: Uint8Array | string, options?: SharpOptions): Sharp {
  return loadSharp()(input, options);
}

/** Decoder warnings that PIL loads through, so they do not make an image undecodable. */
const BENIGN_DECODER_WARNING = /extraneous bytes before marker|iCCP|incorrect sRGB profile|CRC error|tEXt|zTXt|iTXt|eXIf|exif/i;

/**
 * Image bytes → SigLIP `pixel_values`, as transformers' `load_image` plus the PIL image
 * processor compute them (architecture §2):
 *
 * 1. decode with sharp; EXIF orientation applied; the first frame of an animation;
 * 2. stored colour values kept: an embedded ICC profile is not applied, as PIL does not
 *    apply it (sharp would convert to sRGB by default — up to 107 levels off);
 * 3. RGB: alpha dropped (not composited — PIL's `convert('RGB')` drops it), grey and palette
 *    expanded; CMYK is converted through a CMYK profile and 16-bit is scaled to 8 bits
 *    properly, where Pillow is naive (the only deliberate differences from Pillow);
 * 4. resized straight to H × W with Pillow's BICUBIC (our port of its resampler: libvips'
 *    kernels disagree with it when enlarging), quantised to uint8;
 * 5. `(x · rescale − mean) / std` in float32, channels first.
 *
 * With `decode: { mode: 'fast' }`, step 1 decodes JPEG and WebP at a reduced scale (libjpeg's
 * DCT-domain 1/2, 1/4, 1/8; libwebp's scaled decoding) that keeps the reducing gap above the
 * model's size, and step 4 resizes from there: Pillow's `draft` + `resize` (see `DecodeMode`).
 *
 * Faults of the image, and any other failure while preprocessing it (`preprocess_failed`),
 * are thrown as `ImageError` with its errors-file code.
 */
export class ImagePreprocessor {
  /** Floats per image: `3 × H × W`. */
  readonly valuesPerImage: number;
  private readonly maxPixels: number;
  private readonly maxSide: number;
  readonly decodeMode: DecodeMode;
  /** For each channel (R, G, B end to end), the float32 value of each uint8 level, computed as numpy does. */
  private readonly tables: Float32Array;

  constructor(
    readonly config: ImagePreprocessConfig,
    options: ImagePreprocessorOptions = {},
  ) {
    if (!(config.width >= 1 && config.height >= 1)) throw new RangeError(`bad output size ${config.width}×${config.height}`);
    this.valuesPerImage = 3 * config.width * config.height;
    this.maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
    this.maxSide = options.maxSide ?? DEFAULT_MAX_SIDE;
    this.decodeMode = options.decode ?? EXACT_DECODE;
    this.tables = normalizationTables(config);
  }

  /** Decode, resize and normalise one image into a new `3 × H × W` array. */
  async preprocess(bytes: Uint8Array): Promise<PreprocessedImage> {
    const pixels = new Float32Array(this.valuesPerImage);
    const { width, height } = await this.preprocessInto(bytes, pixels, 0);
    return { pixels, width, height };
  }

  /**
   * Decode, resize and normalise one image straight into slot `index` of a batch
   * (`batch.length ≥ (index + 1) · 3HW`), so that a batch is assembled without copies.
   * Returns the source size after EXIF orientation.
   */
  async preprocessInto(bytes: Uint8Array, batch: Float32Array, index: number): Promise<{ width: number; height: number }> {
    const offset = index * this.valuesPerImage;
    if (!Number.isInteger(index) || index < 0 || offset + this.valuesPerImage > batch.length) {
      throw new RangeError(`batch of ${batch.length} values has no slot ${index} for ${this.valuesPerImage}-value images`);
    }
    return asImageError(async () => {
      const decoded = await this.decode(bytes);
      const { width, height } = this.config;
      // Resize and normalise in one step in WebAssembly (same bytes, same floats); else in JS.
      if (!resizeBicubicNormalizedInto(decoded.rgb, decoded.width, decoded.height, width, height, this.tables, batch, offset, decoded.extent)) {
        this.normalizeInto(this.resize(decoded), batch, offset);
      }
      release(decoded.rgb);
      return { width: decoded.width, height: decoded.height };
    });
  }

  /**
   * Steps 1–4 only: decode and resize one image to `H × W × 3` uint8 RGB, for a caller that
   * normalises later (the inference thread, through {@link normalizationTables}: the same floats as
   * {@link preprocess}). A quarter of the bytes to hand between threads.
   */
  async preprocessResized(bytes: Uint8Array): Promise<ResizedImage> {
    return asImageError(async () => {
      const decoded = await this.decode(bytes);
      const rgb = this.resize(decoded);
      if (rgb.buffer !== decoded.rgb.buffer) release(decoded.rgb);
      return { rgb, width: decoded.width, height: decoded.height };
    });
  }

  /**
   * Steps 1–3: bytes → 8-bit RGB at the image's own (oriented) size — in `fast` mode, at the
   * reduced size of the scaled decoding when the image is large enough for one.
   */
  async decode(bytes: Uint8Array): Promise<DecodedImage> {
    if (bytes.length === 0) throw new ImageError('empty_object', 'the object is empty (0 bytes)');
    const format = sniffImageFormat(bytes);
    if (!format) throw new ImageError('unsupported_format', `not a supported image: ${describeUnknownBytes(bytes)}`);

    const header = format === 'jpeg' ? readJpegHeader(bytes) : undefined;
    const { frameWidth, frameHeight, isCmykWithProfile } = header
      ? { frameWidth: header.width, frameHeight: header.height, isCmykWithProfile: header.components === 4 && header.hasIccProfile }
      : await this.readHeaderWithSharp(bytes, format);
    checkImageSize(frameWidth, frameHeight, { maxPixels: this.maxPixels, maxSide: this.maxSide });

    // A CMYK image needs a colour transform to become RGB at all: through its own profile
    // when it has one, else through libvips' generic CMYK profile. Every other image keeps
    // its stored values, as PIL does.
    const ignoreIcc = !isCmykWithProfile;
    const factor = this.scaledDecodeFactor(format, frameWidth, frameHeight);
    let raw: { data: Buffer; info: OutputInfo };
    try {
      raw = await this.decodePixels(bytes, ignoreIcc, 'warning', format, factor);
    } catch (error) {
      // Corrupt pixel data (libjpeg's "premature end of data segment" …) is refused as PIL
      // refuses it; the few warnings PIL loads through (stray bytes before a marker, damaged
      // ancillary PNG chunks) get a second, lenient decode.
      if (!BENIGN_DECODER_WARNING.test(messageOf(error))) {
        throw new ImageError('decode_failed', `cannot decode the ${format} image: ${messageOf(error)}`, { cause: error });
      }
      try {
        raw = await this.decodePixels(bytes, ignoreIcc, 'error', format, factor);
      } catch (retryError) {
        throw new ImageError('decode_failed', `cannot decode the ${format} image: ${messageOf(retryError)}`, { cause: retryError });
      }
    }
    const { data, info } = raw;
    const rgb = info.channels === 3 ? new Uint8Array(data.buffer, data.byteOffset, data.length) : toRgb(data, info.channels);
    // A partial last pixel only where a stored side is no multiple of the factor.
    const partial = format === 'jpeg' && (frameWidth % factor !== 0 || frameHeight % factor !== 0);
    const extent = partial ? await jpegExtent(bytes, frameWidth / factor, frameHeight / factor, info.width, info.height) : undefined;
    return { rgb, width: info.width, height: info.height, format, ...(extent ? { extent } : {}) };
  }

  /** The header facts `decode` needs, from sharp (every format; JPEG is read by `readJpegHeader`). */
  private async readHeaderWithSharp(bytes: Uint8Array, format: ImageFormat): Promise<{ frameWidth: number; frameHeight: number; isCmykWithProfile: boolean }> {
    let metadata: Metadata;
    try {
      metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
    } catch (error) {
      throw new ImageError('decode_failed', `cannot read the ${format} header: ${messageOf(error)}`, { cause: error });
    }
    if (metadata.format !== SHARP_FORMAT[format]) {
      throw new ImageError('unsupported_format', `looks like ${format} but decodes as ${metadata.format ?? 'nothing'}`);
    }
    const frameWidth = metadata.width;
    const frameHeight = metadata.pageHeight ?? metadata.height;
    if (!frameWidth || !frameHeight) throw new ImageError('decode_failed', `the ${format} header has no dimensions`);
    return { frameWidth, frameHeight, isCmykWithProfile: metadata.space === 'cmyk' && metadata.hasProfile === true };
  }

  /** 1 (full resolution), or the factor of a scaled decode in `fast` mode (JPEG and WebP only). */
  private scaledDecodeFactor(format: ImageFormat, width: number, height: number): 1 | 2 | 4 | 8 {
    if (this.decodeMode.mode === 'exact' || (format !== 'jpeg' && format !== 'webp')) return 1;
    return scaledDecodeFactor(width, height, this.config.width, this.config.height, this.decodeMode.reducingGap);
  }

  private async decodePixels(bytes: Uint8Array, ignoreIcc: boolean, failOn: 'warning' | 'error', format: ImageFormat, factor: 1 | 2 | 4 | 8) {
    const options = { autoOrient: true, ignoreIcc, failOn, limitInputPixels: this.maxPixels, pages: 1, page: 0 } as const;
    const toRaw = (image: Sharp) => image.removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (factor === 1) return toRaw(sharp(bytes, options));
    // The loaders' scaled decoding is reached through a file name's load options only.
    const path = scratchImagePath(format === 'jpeg' ? 'jpg' : 'webp');
    try {
      await writeFile(path, bytes);
      return await toRaw(sharp(`${path}[${format === 'jpeg' ? `shrink=${factor}` : `scale=${1 / factor}`}]`, options));
    } catch (error) {
      // libvips may name the file: the scratch path means nothing to whoever reads the error row.
      throw new Error(messageOf(error).replaceAll(path, 'the image'), { cause: error });
    } finally {
      await unlink(path).catch(() => undefined);
    }
  }

  /** Step 4: Pillow BICUBIC straight to H × W, interleaved uint8 RGB. */
  resize(decoded: DecodedImage): Uint8Array {
    return resizeBicubic(decoded.rgb, decoded.width, decoded.height, 3, this.config.width, this.config.height, 'auto', decoded.extent);
  }

  /** Step 5: interleaved uint8 RGB (H × W) → normalised float32 CHW at `out[offset…]`. */
  normalizeInto(rgb: Uint8Array, out: Float32Array, offset: number): void {
    const plane = this.config.width * this.config.height;
    if (rgb.length !== plane * 3) throw new RangeError(`expected ${plane * 3} RGB bytes, got ${rgb.length}`);
    normalizeRgbInto(rgb, out, this.tables, plane, 1, offset);
  }
}

/** A new zeroed batch for `count` images of this preprocessor. */
export function allocatePixelBatch(preprocessor: ImagePreprocessor, count: number): Float32Array {
  return new Float32Array(count * preprocessor.valuesPerImage);
}

/**
 * Step 5 as three lookups end to end (R, G, B; 3 × 256 float32): the normalised value of every
 * uint8 level of each channel. `tables[c · 256 + v]` is what `preprocess` writes for level `v` of
 * channel `c`.
 */
export function normalizationTables(config: ImagePreprocessConfig): Float32Array {
  const tables = new Float32Array(768);
  for (const channel of [0, 1, 2] as const) tables.set(channelLookup(config, channel), channel * 256);
  return tables;
}

/**
 * Runs one image's preprocessing: whatever goes wrong with it (an allocation, the resampler,
 * libvips) is that image's fault as far as a caller can tell, an `ImageError` (a row of its own,
 * not a failed batch).
 */
async function asImageError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ImageError) throw error;
    throw new ImageError('preprocess_failed', `preprocessing failed: ${messageOf(error)}`, { cause: error });
  }
}

/**
 * The float32 value of every uint8 level in one channel, with numpy's rounding steps:
 * transformers rescales in float64 then casts to float32, and normalises in float32.
 */
function channelLookup(config: ImagePreprocessConfig, channel: 0 | 1 | 2): Float32Array {
  const table = new Float32Array(256);
  const mean = Math.fround(config.mean[channel]);
  const std = Math.fround(config.std[channel]);
  for (let level = 0; level < 256; level++) {
    let x = config.doRescale ? Math.fround(level * config.rescaleFactor) : level;
    if (config.doNormalize) x = Math.fround(Math.fround(x - mean) / std);
    table[level] = x;
  }
  return table;
}

/**
 * The box the pixels of a scaled JPEG decode stand for, in their own (EXIF-oriented) axes.
 * libjpeg's scaled output covers `stored side / factor` pixels, the last one partial; libvips
 * drops that partial pixel at the stored right and bottom edges, which the EXIF orientation
 * may have moved to the left or top: there the box starts a fraction of a pixel before 0.
 */
async function jpegExtent(bytes: Uint8Array, storedWidth: number, storedHeight: number, width: number, height: number): Promise<SourceExtent> {
  const orientation = (await sharp(bytes).metadata()).orientation ?? 1;
  const transposed = orientation >= 5;
  // Per oriented axis: the stored axis it shows, and whether that axis runs backwards.
  const [horizontal, vertical] = transposed ? [storedHeight, storedWidth] : [storedWidth, storedHeight];
  const reversedX = [2, 3, 6, 7].includes(orientation);
  const reversedY = [3, 4, 7, 8].includes(orientation);
  return {
    left: reversedX ? width - horizontal : 0,
    top: reversedY ? height - vertical : 0,
    width: horizontal,
    height: vertical,
  };
}

/** Expand sharp's 1- or 2-band output (which `toColourspace('srgb')` should already prevent) to RGB. */
function toRgb(data: Buffer, channels: number): Uint8Array {
  const pixels = data.length / channels;
  const rgb = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const src = i * channels;
    if (channels < 3) {
      rgb[i * 3] = rgb[i * 3 + 1] = rgb[i * 3 + 2] = data[src]!;
    } else {
      rgb[i * 3] = data[src]!;
      rgb[i * 3 + 1] = data[src + 1]!;
      rgb[i * 3 + 2] = data[src + 2]!;
    }
  }
  return rgb;
}

/**
 * Frees the decoded pixels now instead of at a later garbage collection. sharp's output lives
 * outside the JS heap and V8 counts it as external memory: megabytes per image made V8 run a full
 * mark-compact every 15–20 images (~8 % of preprocessing time on one core, measured with
 * `--trace-gc`). Detaching the buffer (`ArrayBuffer.prototype.transfer(0)`) drops that count and
 * its memory at once. Only a buffer the view covers whole is detached (never a shared pool).
 */
function release(pixels: Uint8Array): void {
  const buffer = pixels.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };
  if (pixels.byteOffset !== 0 || buffer.byteLength !== pixels.byteLength || typeof buffer.transfer !== 'function') return;
  try {
    buffer.transfer(0);
  } catch {
    // Not detachable (a runtime's own buffer): the collector frees it as before.
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
