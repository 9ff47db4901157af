/**
 * SentencePiece's normalizer (`normalizer.cc`), as the Python `sentencepiece` library applies
 * it before encoding: the model's precompiled character map (a Darts double-array trie of
 * UTF-8 rules, e.g. `nmt_nfkc`: NFKC plus SentencePiece's own whitespace and control-character
 * rules), longest match first, then the whitespace handling — leading spaces dropped, runs
 * collapsed, trailing ones removed, a dummy "▁" prefix added, spaces escaped as "▁".
 *
 * Applying plain `String.prototype.normalize('NFKC')` instead (what @huggingface/tokenizers'
 * `Precompiled` does) differs on e.g. U+2581, control characters and several spaces.
 */

/** The SentencePiece `NormalizerSpec` fields that change the output. */
export interface NormalizerSpec {
  /** The `precompiled_charsmap` blob; empty or absent for an identity normalizer. */
  readonly precompiledCharsmap?: Uint8Array;
  /** @defaultValue true */
  readonly addDummyPrefix?: boolean;
  /** @defaultValue true */
  readonly removeExtraWhitespaces?: boolean;
  /** @defaultValue true */
  readonly escapeWhitespaces?: boolean;
}

export const SPACE_SYMBOL = '\u2581';
const SPACE_SYMBOL_BYTES = [0xe2, 0x96, 0x81] as const;
const SPACE = 0x20;

/** The precompiled character map: a Darts-clone double array over UTF-8 bytes plus the replacement strings. */
export class PrecompiledCharsmap {
  private readonly units: Uint32Array;
  private readonly normalized: Uint8Array;

  constructor(blob: Uint8Array) {
    if (blob.length < 4) throw new Error('precompiled charsmap is too short');
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const trieBytes = view.getUint32(0, true);
    if (trieBytes % 4 !== 0 || 4 + trieBytes > blob.length) throw new Error('precompiled charsmap has a bad trie size');
    this.units = new Uint32Array(trieBytes / 4);
    for (let i = 0; i < this.units.length; i++) this.units[i] = view.getUint32(4 + i * 4, true);
    this.normalized = blob.slice(4 + trieBytes);
  }

  /**
   * The longest rule matching `input` at `pos`: its replacement bytes and how many input bytes
   * it consumes, or `undefined` when no rule matches.
   */
  longestMatch(input: Uint8Array, pos: number): { replacement: Uint8Array; consumed: number } | undefined {
    const units = this.units;
    let nodePos = 0;
    let unit = units[0]!;
    nodePos ^= offsetOf(unit);
    let bestLength = 0;
    let bestValue = 0;
    for (let i = pos; i < input.length; i++) {
      const c = input[i]!;
      nodePos ^= c;
      unit = units[nodePos] ?? 0;
      if (labelOf(unit) !== c) break;
      nodePos ^= offsetOf(unit);
      if (hasLeaf(unit)) {
        bestLength = i - pos + 1;
        bestValue = (units[nodePos] ?? 0) & 0x7fffffff;
      }
    }
    if (bestLength === 0) return undefined;
    let end = bestValue;
    while (end < this.normalized.length && this.normalized[end] !== 0) end++;
    return { replacement: this.normalized.subarray(bestValue, end), consumed: bestLength };
  }
}

function offsetOf(unit: number): number {
  return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
}
function labelOf(unit: number): number {
  return unit & 0x800000ff;
}
function hasLeaf(unit: number): boolean {
  return ((unit >>> 8) & 1) === 1;
}

const REPLACEMENT_CHARACTER = new Uint8Array([0xef, 0xbf, 0xbd]);

/** Length of the UTF-8 sequence at `pos`, or 0 when it is malformed. */
function utf8Length(bytes: Uint8Array, pos: number): number {
  const b = bytes[pos]!;
  const len = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
  if (len === 0 || pos + len > bytes.length) return 0;
  for (let i = 1; i < len; i++) if ((bytes[pos + i]! & 0xc0) !== 0x80) return 0;
  return len;
}

/** SentencePiece's `Normalizer::Normalize`. */
export class SentencePieceNormalizer {
  private readonly charsmap: PrecompiledCharsmap | undefined;
  private readonly addDummyPrefix: boolean;
  private readonly removeExtraWhitespaces: boolean;
  private readonly escapeWhitespaces: boolean;

  constructor(spec: NormalizerSpec) {
    this.charsmap = spec.precompiledCharsmap?.length ? new PrecompiledCharsmap(spec.precompiledCharsmap) : undefined;
    this.addDummyPrefix = spec.addDummyPrefix ?? true;
    this.removeExtraWhitespaces = spec.removeExtraWhitespaces ?? true;
    this.escapeWhitespaces = spec.escapeWhitespaces ?? true;
  }

  /** One normalisation step at `pos`: the replacement and the bytes consumed. */
  private prefix(input: Uint8Array, pos: number): { replacement: Uint8Array; consumed: number } {
    const match = this.charsmap?.longestMatch(input, pos);
    if (match) return match;
    const length = utf8Length(input, pos);
    if (length === 0) return { replacement: REPLACEMENT_CHARACTER, consumed: 1 };
    return { replacement: input.subarray(pos, pos + length), consumed: length };
  }

  normalize(text: string): string {
    const input = new TextEncoder().encode(text);
    const out: number[] = [];
    let pos = 0;
    if (this.removeExtraWhitespaces) {
      while (pos < input.length) {
        const p = this.prefix(input, pos);
        if (!(p.replacement.length === 1 && p.replacement[0] === SPACE)) break;
        pos += p.consumed;
      }
    }
    if (pos >= input.length) return '';
    if (this.addDummyPrefix) this.appendSpace(out);
    let isPrevSpace = this.removeExtraWhitespaces;
    while (pos < input.length) {
      const p = this.prefix(input, pos);
      let start = 0;
      const sp = p.replacement;
      if (isPrevSpace) while (start < sp.length && sp[start] === SPACE) start++;
      if (start < sp.length) {
        for (let n = start; n < sp.length; n++) {
          if (sp[n] === SPACE) this.appendSpace(out);
          else out.push(sp[n]!);
        }
        isPrevSpace = sp[sp.length - 1] === SPACE;
      }
      pos += p.consumed;
      if (!this.removeExtraWhitespaces) isPrevSpace = false;
    }
    if (this.removeExtraWhitespaces) {
      const space = this.escapeWhitespaces ? SPACE_SYMBOL_BYTES : [SPACE];
      while (out.length >= space.length && space.every((b, i) => out[out.length - space.length + i] === b)) {
        out.length -= space.length;
      }
    }
    return new TextDecoder().decode(new Uint8Array(out));
  }

  private appendSpace(out: number[]): void {
    if (this.escapeWhitespaces) out.push(...SPACE_SYMBOL_BYTES);
    else out.push(SPACE);
  }
}
