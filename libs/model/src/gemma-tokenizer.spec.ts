/**
 * SigLIP 2's tokenizer against transformers on the committed edge cases
 * (fixtures/reference/tokenizer-strings.json: case, accents, CJK, emoji, runs of spaces, bytes
 * outside the vocabulary, empty, over-long, literal special tokens; ids computed by
 * `Siglip2Tokenizer` and `GemmaTokenizer` in tools/fixtures/regenerate-families.sh).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Tokenizer } from '@huggingface/tokenizers';
import { GemmaTokenizer } from './gemma-tokenizer';
import { TINY_SIGLIP2 } from './testing/model-fixtures';

interface Case {
  text: string;
  ids: number[];
  padded: number[];
  ids_no_lowercase: number[];
}

let cases: Case[];
let paddingSide: 'left' | 'right';
let lower: GemmaTokenizer;
let raw: GemmaTokenizer;
let tokenizerJson: unknown;
beforeAll(async () => {
  const reference = JSON.parse(await readFile(join(TINY_SIGLIP2.referenceDir, 'reference.json'), 'utf8')) as {
    tokenizer_cases: Case[];
    padding_side: 'left' | 'right';
  };
  cases = reference.tokenizer_cases;
  paddingSide = reference.padding_side;
  tokenizerJson = JSON.parse(await readFile(join(TINY_SIGLIP2.modelDir, 'tokenizer.json'), 'utf8'));
  lower = await GemmaTokenizer.fromDirectory(TINY_SIGLIP2.modelDir, { maxLength: 64 });
  raw = await GemmaTokenizer.fromDirectory(TINY_SIGLIP2.modelDir, { maxLength: 64, lowercase: false });
});

const mismatches = (rows: Case[], ours: (text: string) => number[], want: (c: Case) => number[]) =>
  rows.filter((c) => JSON.stringify(ours(c.text)) !== JSON.stringify(want(c))).map((c) => `${JSON.stringify(c.text)}: ${ours(c.text)} ≠ ${want(c)}`);

describe('GemmaTokenizer (SigLIP 2) against transformers', () => {
  it('covers ≥ 200 edge-case strings', () => {
    expect(cases.length).toBeGreaterThanOrEqual(200);
    const texts = cases.map((c) => c.text);
    for (const text of ['', 'ΣΊΣΥΦΟΣ', '<EOS>', 'x <eos> y', '👨‍👩‍👧‍👦 family', '   many   runs   of   spaces   ']) expect(texts).toContain(text);
  });

  it('lower-casing (Siglip2Tokenizer): identical ids on every string', () => {
    expect(mismatches(cases, (t) => lower.encodeUnpadded(t), (c) => c.ids)).toEqual([]);
  });

  it('padded to 64 on the checkpoint side, truncated with <eos> kept last: identical', () => {
    expect(lower.padSide).toBe(paddingSide);
    expect(mismatches(cases, (t) => lower.encode(t), (c) => c.padded)).toEqual([]);
    expect(cases.some((c) => c.ids.length > 64)).toBe(true);
  });

  it('--no-lowercase (GemmaTokenizer): identical ids on every string, and they differ where case matters', () => {
    expect(mismatches(cases, (t) => raw.encodeUnpadded(t), (c) => c.ids_no_lowercase)).toEqual([]);
    expect(raw.encodeUnpadded('HELLO WORLD')).not.toEqual(lower.encodeUnpadded('HELLO WORLD'));
  });

  it('pads on the right when the checkpoint says so', () => {
    const right = new GemmaTokenizer(tokenizerJson, { maxLength: 64, padSide: 'right' });
    const ids = right.encode('a cat');
    expect(ids.slice(0, right.encodeUnpadded('a cat').length)).toEqual(right.encodeUnpadded('a cat'));
    expect(ids[63]).toBe(right.padId);
  });

  it('refuses what it does not implement, by name', () => {
    const json = tokenizerJson as Record<string, unknown>;
    expect(() => new GemmaTokenizer({ ...json, normalizer: { type: 'NFKC' } }, { maxLength: 64 })).toThrow(/normaliser "NFKC"/);
    expect(() => new GemmaTokenizer({ ...json, model: { type: 'Unigram' } }, { maxLength: 64 })).toThrow(/BPE model/);
  });

  it("why not the library's whole pipeline: it differs from Siglip2Tokenizer on exactly these strings (README)", async () => {
    const config = JSON.parse(await readFile(join(TINY_SIGLIP2.modelDir, 'tokenizer_config.json'), 'utf8')) as object;
    const json = tokenizerJson as { normalizer: unknown };
    const library = new Tokenizer({ ...json, normalizer: { type: 'Sequence', normalizers: [{ type: 'Lowercase' }, json.normalizer] } }, config);
    const plain = new Tokenizer(json, config);
    expect(mismatches(cases, (t) => library.encode(t).ids, (c) => c.ids).map((m) => m.split(':')[0])).toEqual(['"ΣΊΣΥΦΟΣ"', '"<EOS>"']);
    expect(mismatches(cases, (t) => plain.encode(t).ids, (c) => c.ids_no_lowercase)).toEqual([]);
  });
});
