import { describe, expect, it } from 'vitest';
import { describeFamily } from './model-family';
import { loadModelDir } from './siglip-config';
import { TINY_MULTILINGUAL, TINY_SIGLIP, TINY_SIGLIP2 } from './testing/model-fixtures';

describe('describeFamily', () => {
  it('BPE tokenizer.json → SigLIP 2 (Gemma): lower-case, left padding unless the checkpoint says otherwise', () => {
    const problems: string[] = [];
    expect(describeFamily('siglip', { model: { type: 'BPE' } }, { tokenizer_class: 'GemmaTokenizer' }, problems)).toEqual({
      family: 'siglip2',
      tokenizer: { kind: 'gemma-bpe', lowercase: true, padSide: 'left', configClass: 'GemmaTokenizer' },
    });
    expect(describeFamily(undefined, { model: { type: 'BPE' } }, { padding_side: 'right' }, problems).tokenizer.padSide).toBe('right');
    expect(problems).toEqual([]);
  });

  it('Unigram → SigLIP: do_lower_case and right padding; model_type siglip2 → NaFlex', () => {
    const problems: string[] = [];
    expect(describeFamily('siglip', { model: { type: 'Unigram' } }, { do_lower_case: false }, problems)).toEqual({
      family: 'siglip',
      tokenizer: { kind: 'sentencepiece-unigram', lowercase: false, padSide: 'right' },
    });
    expect(describeFamily('siglip2', { model: { type: 'BPE' } }, undefined, problems).family).toBe('siglip2-naflex');
    expect(problems).toEqual([]);
  });

  it('names an unknown tokenizer model and a bad padding side', () => {
    const problems: string[] = [];
    describeFamily('siglip', { model: { type: 'WordPiece' } }, { padding_side: 'middle' }, problems);
    expect(problems).toEqual([
      'tokenizer_config.json: padding_side "middle" is neither "left" nor "right"',
      'tokenizer.json: model type WordPiece; expected SentencePiece Unigram (SigLIP) or BPE (SigLIP 2\'s Gemma tokenizer)',
    ]);
  });
});

describe('loadModelDir recognises the committed fixtures', () => {
  it.each([
    [TINY_SIGLIP.name, TINY_SIGLIP, 'siglip', 'sentencepiece-unigram', 16],
    [TINY_SIGLIP2.name, TINY_SIGLIP2, 'siglip2', 'gemma-bpe', 64],
    [TINY_MULTILINGUAL.name, TINY_MULTILINGUAL, 'siglip', 'sentencepiece-unigram', 64],
  ] as const)('%s', async (_name, fixture, family, kind, textLength) => {
    const info = await loadModelDir(fixture.modelDir, { verifyContentHash: true });
    expect(info.family).toBe(family);
    expect(info.tokenizer.kind).toBe(kind);
    expect(info.textLength).toBe(textLength);
  });
});
