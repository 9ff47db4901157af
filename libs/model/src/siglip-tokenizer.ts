import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SentencePieceNormalizer, SPACE_SYMBOL, type NormalizerSpec } from './sentencepiece-normalizer';
import { UnigramModel, type PieceType, type SentencePiece } from './sentencepiece-unigram';
import { encodeBatchInto, type PadSide, type TextTokenizer } from './text-tokenizer';

/** Python's `string.punctuation`: the ASCII punctuation SiglipTokenizer removes. */
export const ASCII_PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
const PUNCTUATION_RE = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;
/** Python's `\s` / `str.isspace()` for str (differs from JS `\s`: adds U+001C–U+001F and U+0085, lacks U+FEFF). */
const PY_WHITESPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_WHITESPACE_RUN = new RegExp(`[${PY_WHITESPACE}]+`, 'g');
const PY_LEADING = new RegExp(`^[${PY_WHITESPACE}]+`);
const PY_TRAILING = new RegExp(`[${PY_WHITESPACE}]+$`);

/** Python's `str.strip()` / `lstrip()` / `rstrip()` with no argument. */
function pyStrip(text: string, side: 'both' | 'left' | 'right' = 'both'): string {
  if (side !== 'right') text = text.replace(PY_LEADING, '');
  if (side !== 'left') text = text.replace(PY_TRAILING, '');
  return text;
}

/**
 * SiglipTokenizer's `canonicalize_text` (from big_vision): lower-case, remove ASCII
 * punctuation, collapse whitespace runs to one space, trim — with Python's definitions of
 * punctuation and whitespace.
 */
export function canonicalizeText(text: string, doLowerCase = true): string {
  if (doLowerCase) text = text.toLowerCase();
  text = text.replace(PUNCTUATION_RE, '');
  text = text.replace(PY_WHITESPACE_RUN, ' ');
  return pyStrip(text);
}

export interface SiglipTokenizerOptions {
  /** Token positions of the text model (`text_config.max_position_embeddings`); every encoding has exactly this length. */
  readonly maxLength: number;
  /**
   * `tokenizer_config.json`, when there is one: `do_lower_case` and the special tokens
   * (`eos_token`, `unk_token`, `pad_token`, `additional_special_tokens`) are read from it.
   */
  readonly tokenizerConfig?: Record<string, unknown>;
  /**
   * Lower-case in the canonicalisation.
   * @defaultValue `tokenizer_config.json`'s `do_lower_case`, else true
   */
  readonly lowercase?: boolean;
  /**
   * Side the padding goes on.
   * @defaultValue `tokenizer_config.json`'s `padding_side`, else 'right' (SiglipTokenizer's default)
   */
  readonly padSide?: PadSide;
}

interface TokenizerJson {
  model?: { type?: string; vocab?: Array<[string, number]>; unk_id?: number; byte_fallback?: boolean };
  normalizer?: Record<string, unknown> | null;
  pre_tokenizer?: Record<string, unknown> | null;
  added_tokens?: Array<{ id: number; content: string; special?: boolean }>;
}

/**
 * SigLIP's tokenizer, exactly as transformers' `SiglipTokenizer` (slow, SentencePiece)
 * computes `tokenizer(texts, padding="max_length", max_length=L, truncation=True)`:
 *
 * 1. "▁" is prepended (and any "▁" in the text becomes a space); the text is split around
 *    literal special tokens (`</s>`, `<unk>`), which become their ids;
 * 2. each piece between them is canonicalised (`canonicalizeText`) and encoded by
 *    SentencePiece behind an `<unk>` prefix that is then dropped (transformers' trick to keep
 *    a leading "▁"), with SentencePiece's own normaliser (the model's precompiled charsmap);
 * 3. truncated to `L − 1` ids, `</s>` appended, padded with the pad id (`</s>` too) to `L`.
 *
 * Loaded from `tokenizer.json` (the Unigram vocabulary and scores, the charsmap and the
 * Metaspace prefix flag), so it works for our exports and for Xenova / onnx-community ones.
 */
export class SiglipTokenizer implements TextTokenizer {
  readonly kind = 'sentencepiece-unigram' as const;
  readonly maxLength: number;
  readonly padSide: PadSide;
  readonly eosId: number;
  readonly padId: number;
  readonly doLowerCase: boolean;
  private readonly unigram: UnigramModel;
  private readonly normalizer: SentencePieceNormalizer;
  private readonly specialIds: ReadonlyMap<string, number>;
  private readonly unkToken: string;
  private readonly unkPrefixLength: number;

  constructor(tokenizerJson: unknown, options: SiglipTokenizerOptions) {
    const json = tokenizerJson as TokenizerJson;
    const model = json.model;
    if (model?.type !== 'Unigram' || !Array.isArray(model.vocab) || typeof model.unk_id !== 'number') {
      throw new Error(`tokenizer.json must hold a SentencePiece Unigram model (got ${model?.type ?? 'none'})`);
    }
    if (!(Number.isInteger(options.maxLength) && options.maxLength >= 2)) throw new RangeError(`bad maxLength ${options.maxLength}`);
    this.maxLength = options.maxLength;
    const config = options.tokenizerConfig ?? {};
    this.doLowerCase = options.lowercase ?? config['do_lower_case'] !== false;
    this.padSide = options.padSide ?? (config['padding_side'] === 'left' ? 'left' : 'right');

    const added = json.added_tokens ?? [];
    const byteFallback = model.byte_fallback === true;
    const pieces: SentencePiece[] = model.vocab.map(([piece, score], id) => ({
      piece,
      score: Math.fround(score),
      type: pieceType(piece, id, model.unk_id!, byteFallback, added),
    }));
    this.unigram = new UnigramModel(pieces, byteFallback);
    this.normalizer = new SentencePieceNormalizer(normalizerSpec(json));

    const tokenText = (value: unknown, fallback: string): string =>
      typeof value === 'string' ? value : typeof (value as { content?: unknown })?.content === 'string' ? (value as { content: string }).content : fallback;
    const eos = tokenText(config['eos_token'], '</s>');
    this.unkToken = tokenText(config['unk_token'], '<unk>');
    const pad = tokenText(config['pad_token'], '</s>');
    const extra = Array.isArray(config['additional_special_tokens'])
      ? (config['additional_special_tokens'] as unknown[]).map((t) => tokenText(t, '')).filter(Boolean)
      : [];
    const idOf = (token: string) => added.find((t) => t.content === token)?.id ?? this.unigram.pieceToId(token);
    this.specialIds = new Map([eos, this.unkToken, pad, ...extra].map((t) => [t, idOf(t)]));
    this.eosId = idOf(eos);
    this.padId = idOf(pad);
    this.unkPrefixLength = this.spEncode(this.unkToken).length;
  }

  /** Reads `tokenizer.json` (and `tokenizer_config.json` when present) from a model directory. */
  static async fromDirectory(dir: string, options: Omit<SiglipTokenizerOptions, 'tokenizerConfig'>): Promise<SiglipTokenizer> {
    const json = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8')) as unknown;
    const config = await readFile(join(dir, 'tokenizer_config.json'), 'utf8')
      .then((text) => JSON.parse(text) as Record<string, unknown>)
      .catch(() => undefined);
    return new SiglipTokenizer(json, { ...options, ...(config ? { tokenizerConfig: config } : {}) });
  }

  /** `SiglipTokenizer.tokenize(text)`: the pieces, before ids, EOS and padding. */
  tokenize(text: string): string[] {
    const chunks = this.splitOnSpecialTokens(SPACE_SYMBOL + text.replaceAll(SPACE_SYMBOL, ' '));
    const tokens: string[] = [];
    for (const chunk of chunks) {
      if (!chunk) continue;
      if (this.specialIds.has(chunk)) tokens.push(chunk);
      else tokens.push(...this.tokenizeChunk(chunk));
    }
    if (tokens.length > 1 && tokens[0] === SPACE_SYMBOL && this.specialIds.has(tokens[1]!)) tokens.shift();
    return tokens;
  }

  /** Ids with EOS but without truncation or padding (`tokenizer(text)["input_ids"]`). */
  encodeUnpadded(text: string): number[] {
    return this.withEos(this.tokenize(text).map((t) => this.specialIds.get(t) ?? this.unigram.pieceToId(t)));
  }

  /** Exactly `maxLength` ids: truncated so that EOS stays last, padded with the pad id. */
  encode(text: string): number[] {
    const ids = this.tokenize(text).map((t) => this.specialIds.get(t) ?? this.unigram.pieceToId(t));
    const out = this.withEos(ids.slice(0, this.maxLength - 1));
    const padding = new Array<number>(this.maxLength - out.length).fill(this.padId);
    return this.padSide === 'left' ? [...padding, ...out] : [...out, ...padding];
  }

  /** Whether text is lower-cased (`do_lower_case`). */
  get lowercase(): boolean {
    return this.doLowerCase;
  }

  /** `input_ids` for the text model: int64 `[texts.length, maxLength]`, row-major. */
  encodeBatch(texts: readonly string[]): BigInt64Array {
    return encodeBatchInto(this, texts);
  }

  private withEos(ids: number[]): number[] {
    // SiglipTokenizer does not add EOS again when the ids already end with it.
    return ids.length > 0 && ids[ids.length - 1] === this.eosId ? ids : [...ids, this.eosId];
  }

  /** SiglipTokenizer._tokenize: canonicalise, encode behind the `<unk>` prefix, drop the prefix. */
  private tokenizeChunk(chunk: string): string[] {
    const text = canonicalizeText(chunk, this.doLowerCase);
    const pieces = this.spEncode(this.unkToken + text);
    return pieces.length >= this.unkPrefixLength ? pieces.slice(this.unkPrefixLength) : pieces;
  }

  /** `sp_model.encode(text, out_type=str)`. */
  private spEncode(text: string): string[] {
    return this.unigram.encode(this.normalizer.normalize(text)).map((p) => p.piece);
  }

  /**
   * transformers' added-token split: the text around each literal special token, with the
   * whitespace next to it stripped (SiglipTokenizer's special tokens have lstrip/rstrip).
   */
  private splitOnSpecialTokens(text: string): string[] {
    const specials = [...this.specialIds.keys()].sort((a, b) => b.length - a.length);
    const parts: string[] = [];
    let rest = text;
    for (;;) {
      let at = -1;
      let token = '';
      for (const candidate of specials) {
        const i = rest.indexOf(candidate);
        if (i >= 0 && (at < 0 || i < at)) {
          at = i;
          token = candidate;
        }
      }
      if (at < 0) break;
      parts.push(rest.slice(0, at), token);
      rest = rest.slice(at + token.length);
    }
    parts.push(rest);
    for (let i = 1; i < parts.length; i += 2) {
      parts[i - 1] = pyStrip(parts[i - 1]!, 'right');
      parts[i + 1] = pyStrip(parts[i + 1]!, 'left');
    }
    return parts;
  }
}

function pieceType(
  piece: string,
  id: number,
  unkId: number,
  byteFallback: boolean,
  added: ReadonlyArray<{ id: number; content: string; special?: boolean }>,
): PieceType {
  if (id === unkId) return 'unknown';
  const addedToken = added.find((t) => t.id === id);
  if (addedToken?.special) return 'control';
  if (addedToken) return 'user_defined';
  if (byteFallback && /^<0x[0-9A-F]{2}>$/.test(piece)) return 'byte';
  return 'normal';
}

/** The SentencePiece normaliser settings a converted `tokenizer.json` carries. */
function normalizerSpec(json: TokenizerJson): NormalizerSpec {
  let charsmap: Uint8Array | undefined;
  const visit = (node: Record<string, unknown> | null | undefined): void => {
    if (!node) return;
    if (node['type'] === 'Precompiled' && typeof node['precompiled_charsmap'] === 'string') {
      charsmap = new Uint8Array(Buffer.from(node['precompiled_charsmap'], 'base64'));
    }
    if (Array.isArray(node['normalizers'])) for (const child of node['normalizers'] as Array<Record<string, unknown>>) visit(child);
  };
  visit(json.normalizer);
  let addDummyPrefix = true;
  const findMetaspace = (node: Record<string, unknown> | null | undefined): Record<string, unknown> | undefined => {
    if (!node) return undefined;
    if (node['type'] === 'Metaspace') return node;
    if (Array.isArray(node['pretokenizers'])) {
      for (const child of node['pretokenizers'] as Array<Record<string, unknown>>) {
        const found = findMetaspace(child);
        if (found) return found;
      }
    }
    return undefined;
  };
  const metaspace = findMetaspace(json.pre_tokenizer);
  if (metaspace) {
    if (metaspace['prepend_scheme'] === 'never') addDummyPrefix = false;
    if (metaspace['add_prefix_space'] === false) addDummyPrefix = false;
  }
  return { ...(charsmap ? { precompiledCharsmap: charsmap } : {}), addDummyPrefix };
}
