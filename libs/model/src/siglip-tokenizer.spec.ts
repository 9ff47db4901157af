import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SentencePieceNormalizer } from './sentencepiece-normalizer';
import { canonicalizeText, SiglipTokenizer } from './siglip-tokenizer';
import { LIB_FIXTURES_DIR, TINY_MODEL_DIR } from './testing/model-fixtures';

// Written by test-fixtures/make-tokenizer-cases.py with transformers' SiglipTokenizer and the
// sentencepiece library on the tiny model's spiece.model.
const fixture = JSON.parse(readFileSync(join(LIB_FIXTURES_DIR, 'tokenizer-cases.json'), 'utf8')) as {
  spiece_sha256: string;
  max_length: number;
  cases: Array<{ text: string; tokens: string[]; input_ids: number[]; sp_normalized: string }>;
};

let tokenizer: SiglipTokenizer;
beforeAll(async () => {
  tokenizer = await SiglipTokenizer.fromDirectory(TINY_MODEL_DIR, { maxLength: fixture.max_length });
});

it('was written for the committed tiny model (else: rerun test-fixtures/make-tokenizer-cases.py)', () => {
  const spiece = createHash('sha256').update(readFileSync(join(TINY_MODEL_DIR, 'spiece.model'))).digest('hex');
  expect(spiece).toBe(fixture.spiece_sha256);
});

describe('canonicalizeText', () => {
  it('lower-cases, drops ASCII punctuation, collapses whitespace and trims', () => {
    expect(canonicalizeText('  A Cup, of; "Coffee"?!  ')).toBe('a cup of coffee');
    expect(canonicalizeText('e-mail: someone@example.com')).toBe('email someoneexamplecom');
    expect(canonicalizeText('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~')).toBe('');
  });

  it('keeps non-ASCII punctuation, as string.punctuation is ASCII only', () => {
    expect(canonicalizeText('“smart” — «quotes» ¿sí?')).toBe('“smart” — «quotes» ¿sí');
  });

  it("uses Python's whitespace: U+001C–U+001F and U+0085 are spaces, U+FEFF and U+200B are not", () => {
    expect(canonicalizeText('a\u001cb\u0085c\u3000d\u00a0e\tf\ng')).toBe('a b c d e f g');
    expect(canonicalizeText('a\ufeffb\u200bc')).toBe('a\ufeffb\u200bc');
  });

  it('lower-cases with full Unicode mappings like Python', () => {
    expect(canonicalizeText('ÅNGSTRÖM ΟΔΟΣ İ')).toBe('ångström οδος i̇');
  });
});

describe('SentencePieceNormalizer (the precompiled charsmap)', () => {
  it.each(fixture.cases.slice(0, 41).map((c) => [JSON.stringify(c.text), c] as const))(
    'normalises %s as the sentencepiece library does',
    (_name, c) => {
      const json = JSON.parse(readFileSync(join(TINY_MODEL_DIR, 'tokenizer.json'), 'utf8')) as {
        normalizer: { normalizers: Array<{ type: string; precompiled_charsmap?: string }> };
      };
      const charsmap = json.normalizer.normalizers.find((n) => n.type === 'Precompiled')!.precompiled_charsmap!;
      const normalizer = new SentencePieceNormalizer({ precompiledCharsmap: new Uint8Array(Buffer.from(charsmap, 'base64')) });
      expect(normalizer.normalize(c.text)).toBe(c.sp_normalized);
    },
  );
});

describe('SiglipTokenizer', () => {
  it('gives exactly SiglipTokenizer\'s tokens and ids on every edge case and random string', () => {
    const mismatches = fixture.cases.filter(
      (c) => JSON.stringify(tokenizer.tokenize(c.text)) !== JSON.stringify(c.tokens) || JSON.stringify(tokenizer.encode(c.text)) !== JSON.stringify(c.input_ids),
    );
    expect(mismatches.map((c) => c.text)).toEqual([]);
    expect(fixture.cases.length).toBeGreaterThan(300);
  });

  it('always gives maxLength ids, EOS last when truncated, pad after EOS otherwise', () => {
    const long = tokenizer.encode('word '.repeat(40));
    expect(long).toHaveLength(16);
    expect(long[15]).toBe(tokenizer.eosId);
    const short = tokenizer.encode('a cat');
    expect(short).toHaveLength(16);
    const eos = short.indexOf(tokenizer.eosId);
    expect(short.slice(eos + 1).every((id) => id === tokenizer.padId)).toBe(true);
    expect(tokenizer.encode('')).toEqual(Array(16).fill(1));
  });

  it('encodes a batch as int64 rows', () => {
    const ids = tokenizer.encodeBatch(['a cat', 'a dog']);
    expect(ids).toBeInstanceOf(BigInt64Array);
    expect(ids.length).toBe(32);
    expect(Array.from(ids.subarray(16), Number)).toEqual(tokenizer.encode('a dog'));
  });

  it('keeps case with lowercase: false (do_lower_case=False) and pads on the left when told', async () => {
    const cased = await SiglipTokenizer.fromDirectory(TINY_MODEL_DIR, { maxLength: 16, lowercase: false });
    expect(cased.lowercase).toBe(false);
    expect(cased.encode('A CAT')).not.toEqual(tokenizer.encode('A CAT'));
    expect(cased.encode('a cat')).toEqual(tokenizer.encode('a cat'));
    const left = await SiglipTokenizer.fromDirectory(TINY_MODEL_DIR, { maxLength: 16, padSide: 'left' });
    const ids = tokenizer.encodeUnpadded('a cat');
    expect(left.encode('a cat')).toEqual([...Array<number>(16 - ids.length).fill(tokenizer.padId), ...ids]);
  });

  it('refuses a tokenizer.json that is not a Unigram model', () => {
    expect(() => new SiglipTokenizer({ model: { type: 'BPE' } }, { maxLength: 16 })).toThrow(/Unigram/);
  });
});
