/**
 * Recognises the raster formats we decode from their first bytes, before any decoder sees
 * them. Anything else (SVG, PDF, HTML, text, BMP, HEIC …) is refused unread: SVG in
 * particular must never reach sharp, whose SVG renderer may fetch external resources.
 */
export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'avif';

/** The sharp `metadata().format` name each accepted format decodes as. */
export const SHARP_FORMAT: Readonly<Record<ImageFormat, string>> = {
  jpeg: 'jpeg',
  png: 'png',
  gif: 'gif',
  webp: 'webp',
  tiff: 'tiff',
  avif: 'heif',
};

const AVIF_BRANDS = new Set(['avif', 'avis']);

/** The format of `bytes` when it is one we accept, else `undefined`. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  const at = (i: number) => bytes[i] ?? -1;
  const ascii = (start: number, end: number) => String.fromCharCode(...bytes.subarray(start, end));
  if (at(0) === 0xff && at(1) === 0xd8 && at(2) === 0xff) return 'jpeg';
  if (at(0) === 0x89 && ascii(1, 8) === 'PNG\r\n\x1a\n') return 'png';
  if (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a') return 'gif';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if ((at(0) === 0x49 && at(1) === 0x49 && at(2) === 0x2a && at(3) === 0x00) ||
      (at(0) === 0x4d && at(1) === 0x4d && at(2) === 0x00 && at(3) === 0x2a)) {
    return 'tiff';
  }
  if (ascii(4, 8) === 'ftyp' && bytes.length >= 12) {
    // ISO-BMFF: the major brand, then compatible brands up to the end of the ftyp box.
    const boxSize = Math.min(((at(0) << 24) | (at(1) << 16) | (at(2) << 8) | at(3)) >>> 0, bytes.length, 256);
    if (AVIF_BRANDS.has(ascii(8, 12))) return 'avif';
    for (let i = 16; i + 4 <= boxSize; i += 4) if (AVIF_BRANDS.has(ascii(i, i + 4))) return 'avif';
  }
  return undefined;
}

/** A short human description of what unrecognised bytes look like, for error messages. */
export function describeUnknownBytes(bytes: Uint8Array): string {
  const head = Buffer.from(bytes.subarray(0, 512)).toString('latin1').trimStart().toLowerCase();
  if (head.startsWith('%pdf')) return 'a PDF document';
  if (head.startsWith('<?xml') || head.startsWith('<svg') || head.includes('<svg')) {
    return head.includes('<svg') ? 'an SVG document (vector images are not rendered)' : 'an XML document';
  }
  if (head.startsWith('<!doctype html') || head.startsWith('<html')) return 'an HTML document';
  if (bytes[0] === 0x42 && bytes[1] === 0x4d) return 'a BMP image (not supported)';
  if (Buffer.from(bytes.subarray(4, 8)).toString('latin1') === 'ftyp') return 'an ISO-BMFF file that is not AVIF (e.g. HEIC or video)';
  const sample = bytes.subarray(0, 512);
  const printable = sample.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127) || b >= 128);
  if (printable) return 'text';
  return 'an unrecognised format';
}
