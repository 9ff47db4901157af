/**
 * What preprocessing needs from a JPEG's header, read from its markers without decoding:
 * the frame size (for the pixel limit), the component count (4 = CMYK/YCCK, which needs a
 * colour transform) and whether an ICC profile is embedded. Saves a second pass of the
 * decoder (`sharp().metadata()`, ~1 ms an image) on the common format. Anything unusual
 * gives `undefined` and the caller asks sharp instead.
 */
export interface JpegHeader {
  readonly width: number;
  readonly height: number;
  readonly components: number;
  readonly hasIccProfile: boolean;
}

/** SOF markers that carry a frame header (not DHT C4, JPG C8 or DAC CC). */
const isStartOfFrame = (marker: number) => marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;

const ICC_TAG = [0x49, 0x43, 0x43, 0x5f, 0x50, 0x52, 0x4f, 0x46, 0x49, 0x4c, 0x45, 0x00]; // "ICC_PROFILE\0"

export function readJpegHeader(bytes: Uint8Array): JpegHeader | undefined {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let hasIccProfile = false;
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    // Markers without a length: TEM, RSTn; SOI again or EOI before a frame is not a plain JPEG.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2;
      continue;
    }
    if (marker === 0xd8 || marker === 0xd9 || marker === 0xda) return undefined;
    const length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    if (length < 2 || at + 2 + length > bytes.length) return undefined;
    const body = at + 4;
    if (marker === 0xe2 && length >= 2 + ICC_TAG.length && ICC_TAG.every((b, i) => bytes[body + i] === b)) hasIccProfile = true;
    if (isStartOfFrame(marker)) {
      if (length < 8) return undefined;
      const height = (bytes[body + 1]! << 8) | bytes[body + 2]!;
      const width = (bytes[body + 3]! << 8) | bytes[body + 4]!;
      const components = bytes[body + 5]!;
      if (width === 0 || height === 0 || components === 0) return undefined;
      // An ICC profile may come after the frame header in odd files: look on to the scan.
      if (!hasIccProfile) hasIccProfile = iccAfter(bytes, at + 2 + length);
      return { width, height, components, hasIccProfile };
    }
    at += 2 + length;
  }
  return undefined;
}

function iccAfter(bytes: Uint8Array, from: number): boolean {
  let at = from;
  while (at + 4 <= bytes.length && bytes[at] === 0xff) {
    const marker = bytes[at + 1]!;
    if (marker === 0xda || marker === 0xd9) return false;
    const length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    if (length < 2) return false;
    if (marker === 0xe2 && ICC_TAG.every((b, i) => bytes[at + 4 + i] === b)) return true;
    at += 2 + length;
  }
  return false;
}
