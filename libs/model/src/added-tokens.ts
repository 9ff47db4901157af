/** A `tokenizer.json` added token (special tokens such as `<eos>`, `<pad>`). */
export interface AddedTokenSpec {
  readonly id: number;
  readonly content: string;
  readonly lstrip?: boolean;
  readonly rstrip?: boolean;
  readonly single_word?: boolean;
  readonly normalized?: boolean;
  readonly special?: boolean;
}

/** One piece of a split text: an added token (its id) or the text between them. */
export type AddedTokenPiece = { readonly id: number; readonly text?: undefined } | { readonly id?: undefined; readonly text: string };

/** Rust's `char::is_whitespace` (Unicode White_Space), which `lstrip`/`rstrip` swallow. */
const WHITESPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;
const WORD_CHAR = /[\p{L}\p{N}_]/u;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The Hugging Face tokenizers library's added-token split (`AddedVocabulary`): leftmost-longest
 * matches of the tokens' literal contents, a match widened over the whitespace before it
 * (`lstrip`) and after it (`rstrip`), a `single_word` token matched only between non-word
 * characters. The text between matches is left for the normaliser and the model.
 */
export class AddedTokenSplitter {
  private readonly pattern: RegExp | undefined;
  private readonly byContent: ReadonlyMap<string, AddedTokenSpec>;

  constructor(tokens: readonly AddedTokenSpec[]) {
    this.byContent = new Map(tokens.filter((t) => t.content.length > 0).map((t) => [t.content, t]));
    // An alternation tries its branches in order: longest first gives leftmost-longest.
    const contents = [...this.byContent.keys()].sort((a, b) => b.length - a.length);
    this.pattern = contents.length ? new RegExp(contents.map(escapeRegExp).join('|'), 'gu') : undefined;
  }

  split(text: string): AddedTokenPiece[] {
    if (!this.pattern || text.length === 0) return text.length ? [{ text }] : [];
    const pieces: AddedTokenPiece[] = [];
    let start = 0; // start of the text not yet emitted
    this.pattern.lastIndex = 0;
    for (let match = this.pattern.exec(text); match; match = this.pattern.exec(text)) {
      const token = this.byContent.get(match[0])!;
      let from = match.index;
      let to = from + match[0].length;
      if (token.single_word) {
        const before = text.slice(0, from);
        const after = text.slice(to);
        if ((before && WORD_CHAR.test(lastChar(before))) || (after && WORD_CHAR.test(String.fromCodePoint(after.codePointAt(0)!)))) continue;
      }
      if (token.lstrip) while (from > start && WHITESPACE.test(text[from - 1]!)) from--;
      if (token.rstrip) while (to < text.length && WHITESPACE.test(text[to]!)) to++;
      if (from > start) pieces.push({ text: text.slice(start, from) });
      pieces.push({ id: token.id });
      start = to;
      this.pattern.lastIndex = to;
    }
    if (start < text.length) pieces.push({ text: text.slice(start) });
    return pieces;
  }
}

function lastChar(text: string): string {
  const chars = Array.from(text.slice(-2));
  return chars[chars.length - 1]!;
}
