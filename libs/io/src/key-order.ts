/**
 * Byte order of UTF-8 keys, the order of ListObjectsV2 and of the local store's listing.
 *
 * JavaScript's `<` compares UTF-16 code units, which differs from UTF-8 byte order only between
 * surrogate pairs (U+10000 and above) and U+E000–U+FFFF; shifting both ranges at the first
 * differing unit (the ICU trick) gives code point order = UTF-8 byte order, without encoding.
 */
function rank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}
