import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BPE } from '@huggingface/tokenizers';
import { AddedTokenSplitter, type AddedTokenSpec } from './added-tokens';
import { encodeBatchInto, type PadSide, type TextTokenizer } from './text-tokenizer';

export interface GemmaTokenizerOptions {
  /** Token positions of the text model; every encoding has exactly this length. */
  readonly maxLength: number;
  /**
   * Lower-case the text before tokenising, as transformers' `Siglip2Tokenizer` does (SigLIP 2
   * was trained on lower-cased text). `false` gives `GemmaTokenizer`'s ids.
   * @defaultValue true
   */
  readonly lowercase?: boolean;
  /**
   * Side the padding goes on; `tokenizer_config.json`'s `padding_side` when there is one, else
   * transformers' class default for Gemma / SigLIP 2 tokenizers.
   * @defaultValue 'left'
   */
  readonly padSide?: PadSide;
  /** `tokenizer_config.json`, when there is one: `pad_token` is read from it. */
  readonly tokenizerConfig?: Record<string, unknown>;
}

interface BpeTokenizerJson {
  model?: { type?: string; vocab?: Record<string, number>; merges?: unknown[]; unk_token?: string | null };
  normalizer?: JsonNode | null;
  pre_tokenizer?: JsonNode | null;
  post_processor?: JsonNode | null;
  added_tokens?: AddedTokenSpec[];
}
type JsonNode = Record<string, unknown>;
type TextStep = (text: string) => string;

/**
 * SigLIP 2's tokenizer (Gemma: SentencePiece BPE with byte fallback), exactly as transformers'
 * `Siglip2Tokenizer` (or, with `lowercase: false`, `GemmaTokenizer`) computes
 * `tokenizer(texts, padding="max_length", max_length=L, truncation=True)`:
 *
 * 1. the text is split around literal added tokens (`<eos>`, `<pad>`, …), on the raw text;
 * 2. each piece is lower-cased character by character (the library's `Lowercase`, no
 *    final-sigma rule), then `tokenizer.json`'s own normaliser (`" "` → `"▁"`) and
 *    pre-tokeniser run, and the BPE model with byte fallback (`@huggingface/tokenizers`'
 *    `BPE`, measured identical to Python) turns it into pieces;
 * 3. the post-processor's template adds its special tokens (`$A <eos>` for SigLIP 2); the
 *    sequence is truncated first so that they survive, then padded to `L` on `padSide`.
 */
export class GemmaTokenizer implements TextTokenizer {
  readonly kind = 'gemma-bpe' as const;
  readonly maxLength: number;
  readonly lowercase: boolean;
  readonly padSide: PadSide;
  readonly padId: number;
  private readonly model: BPE;
  private readonly splitter: AddedTokenSplitter;
  private readonly normalize: TextStep;
  private readonly preTokenize: (text: string) => string[];
  private readonly prefix: number[];
  private readonly suffix: number[];

  constructor(tokenizerJson: unknown, options: GemmaTokenizerOptions) {
    const json = tokenizerJson as BpeTokenizerJson;
    const model = json.model;
    if (model?.type !== 'BPE' || typeof model.vocab !== 'object' || !Array.isArray(model.merges)) {
      throw new Error(`tokenizer.json must hold a BPE model (got ${model?.type ?? 'none'})`);
    }
    if (!(Number.isInteger(options.maxLength) && options.maxLength >= 2)) throw new RangeError(`bad maxLength ${options.maxLength}`);
    this.maxLength = options.maxLength;
    this.lowercase = options.lowercase ?? true;
    this.padSide = options.padSide ?? 'left';
    this.model = new BPE(model as ConstructorParameters<typeof BPE>[0]);
    const added = json.added_tokens ?? [];
    this.splitter = new AddedTokenSplitter(added);
    const idOf = (token: string): number | undefined => added.find((t) => t.content === token)?.id ?? model.vocab![token];

    const steps = normalizerSteps(json.normalizer);
    if (this.lowercase) steps.unshift(lowercaseChars);
    this.normalize = (text) => steps.reduce((t, step) => step(t), text);
    this.preTokenize = preTokenizer(json.pre_tokenizer);
    [this.prefix, this.suffix] = template(json.post_processor, idOf);

    const config = options.tokenizerConfig ?? {};
    const padToken = tokenText(config['pad_token']) ?? '<pad>';
    const padId = idOf(padToken);
    if (padId === undefined) throw new Error(`tokenizer.json has no pad token ${padToken}`);
    this.padId = padId;
    if (this.maxLength <= this.prefix.length + this.suffix.length) throw new RangeError(`maxLength ${this.maxLength} leaves no room for text`);
  }

  /** Reads `tokenizer.json` (and `tokenizer_config.json` when present) from a model directory. */
  static async fromDirectory(dir: string, options: Omit<GemmaTokenizerOptions, 'tokenizerConfig'>): Promise<GemmaTokenizer> {
    const json = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8')) as unknown;
    const config = await readFile(join(dir, 'tokenizer_config.json'), 'utf8')
      .then((text) => JSON.parse(text) as Record<string, unknown>)
      .catch(() => undefined);
    return new GemmaTokenizer(json, { ...options, ...(config ? { tokenizerConfig: config } : {}) });
  }

  /** The ids of the text alone: no special tokens, no truncation, no padding. */
  encodeText(text: string): number[] {
    const ids: number[] = [];
    for (const piece of this.splitter.split(text)) {
      if (piece.id !== undefined) {
        ids.push(piece.id);
        continue;
      }
      const words = this.preTokenize(this.normalize(piece.text)).filter((w) => w.length > 0);
      if (words.length === 0) continue;
      for (const token of this.model._call(words)) ids.push(this.model.tokens_to_ids.get(token) ?? this.model.unk_token_id!);
    }
    return ids;
  }

  /** `tokenizer(text)["input_ids"]`: with the template's special tokens, no truncation or padding. */
  encodeUnpadded(text: string): number[] {
    return [...this.prefix, ...this.encodeText(text), ...this.suffix];
  }

  /** Exactly `maxLength` ids: the text truncated so that the special tokens stay, padded on `padSide`. */
  encode(text: string): number[] {
    const room = this.maxLength - this.prefix.length - this.suffix.length;
    const ids = [...this.prefix, ...this.encodeText(text).slice(0, room), ...this.suffix];
    const padding = new Array<number>(this.maxLength - ids.length).fill(this.padId);
    return this.padSide === 'left' ? [...padding, ...ids] : [...ids, ...padding];
  }

  encodeBatch(texts: readonly string[]): BigInt64Array {
    return encodeBatchInto(this, texts);
  }
}

/**
 * The library's `Lowercase` normaliser maps each character on its own (Rust `to_lowercase`):
 * a word-final "Σ" becomes "σ", where JavaScript's `toLowerCase` on the whole string gives "ς".
 */
function lowercaseChars(text: string): string {
  let out = '';
  for (const char of text) out += char.toLowerCase();
  return out;
}

function normalizerSteps(node: JsonNode | null | undefined): TextStep[] {
  if (!node) return [];
  switch (node['type']) {
    case 'Sequence':
      return ((node['normalizers'] as JsonNode[] | undefined) ?? []).flatMap((child) => normalizerSteps(child));
    case 'Lowercase':
      return [lowercaseChars];
    case 'Replace': {
      const pattern = (node['pattern'] as { String?: unknown } | undefined)?.String;
      const content = node['content'];
      if (typeof pattern !== 'string' || typeof content !== 'string') break;
      return [(text) => text.replaceAll(pattern, content)];
    }
    case 'Prepend': {
      const prepend = node['prepend'];
      if (typeof prepend !== 'string') break;
      return [(text) => (text.length ? prepend + text : text)];
    }
  }
  throw new Error(`tokenizer.json: normaliser ${JSON.stringify(node['type'])} is not supported for BPE tokenizers`);
}

function preTokenizer(node: JsonNode | null | undefined): (text: string) => string[] {
  if (!node) return (text) => [text];
  const pattern = (node['pattern'] as { String?: unknown } | undefined)?.String;
  if (node['type'] === 'Split' && typeof pattern === 'string' && pattern.length > 0 && node['behavior'] === 'MergedWithPrevious' && node['invert'] !== true) {
    // "a b c" → "a ", "b ", "c": each occurrence stays at the end of the word before it.
    return (text) => {
      const words: string[] = [];
      let start = 0;
      for (let at = text.indexOf(pattern); at >= 0; at = text.indexOf(pattern, start)) {
        words.push(text.slice(start, at + pattern.length));
        start = at + pattern.length;
      }
      if (start < text.length) words.push(text.slice(start));
      return words;
    };
  }
  throw new Error(`tokenizer.json: pre-tokeniser ${JSON.stringify(node['type'])} is not supported for BPE tokenizers`);
}

/** The post-processor's single-sequence template: ids before and after the text. */
function template(node: JsonNode | null | undefined, idOf: (token: string) => number | undefined): [number[], number[]] {
  if (!node) return [[], []];
  if (node['type'] !== 'TemplateProcessing' || !Array.isArray(node['single'])) {
    throw new Error(`tokenizer.json: post-processor ${JSON.stringify(node['type'])} is not supported for BPE tokenizers`);
  }
  const specials = (node['special_tokens'] ?? {}) as Record<string, { ids?: number[] }>;
  const before: number[] = [];
  const after: number[] = [];
  let seenSequence = false;
  for (const item of node['single'] as JsonNode[]) {
    if (item['Sequence']) {
      seenSequence = true;
      continue;
    }
    const id = (item['SpecialToken'] as { id?: string } | undefined)?.id;
    const ids = id === undefined ? undefined : (specials[id]?.ids ?? (idOf(id) === undefined ? undefined : [idOf(id)!]));
    if (!ids) throw new Error(`tokenizer.json: post-processor template item ${JSON.stringify(item)} names no known token`);
    (seenSequence ? after : before).push(...ids);
  }
  return [before, after];
}

function tokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const content = (value as { content?: unknown } | null | undefined)?.content;
  return typeof content === 'string' ? content : undefined;
}
