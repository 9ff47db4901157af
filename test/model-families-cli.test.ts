/** `siglip-batch model inspect / tokenize` on the SigLIP 2 and multilingual fixtures: the family, its tokenizer, lower-casing. */
import { spawnSync } from 'node:child_process';
import { cpSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = `${root}node_modules/.bin/siglip-batch`;
const models = join(root, 'fixtures/models');
const scratch = mkdtempSync(join(tmpdir(), 'model-families-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function run(...args: string[]) {
  return spawnSync(bin, args, { cwd: root, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
}

interface Inspected {
  family: string;
  family_name: string;
  tokenizer: { kind: string; lowercase: boolean; pad_side: string; config_class?: string };
  text_length: number;
  image_size: { height: number; width: number };
  variants: string[];
}

describe('siglip-batch model inspect names the family and its tokenizer', () => {
  it.each([
    ['tiny-siglip', { family: 'siglip', family_name: 'SigLIP', text_length: 16, image_size: { height: 224, width: 224 } }, { kind: 'sentencepiece-unigram', lowercase: true, pad_side: 'right', config_class: 'SiglipTokenizer' }],
    ['tiny-siglip2', { family: 'siglip2', family_name: 'SigLIP 2', text_length: 64, image_size: { height: 224, width: 224 } }, { kind: 'gemma-bpe', lowercase: true, pad_side: 'left', config_class: 'GemmaTokenizer' }],
    ['tiny-multilingual', { family: 'siglip', family_name: 'SigLIP', text_length: 64, image_size: { height: 256, width: 256 } }, { kind: 'sentencepiece-unigram', lowercase: true, pad_side: 'right', config_class: 'SiglipTokenizer' }],
  ])('%s (--json)', (name, expected, tokenizer) => {
    const result = run('model', 'inspect', join(models, name), '--json');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const info = JSON.parse(result.stdout) as Inspected;
    expect(info).toMatchObject(expected);
    expect(info.tokenizer).toEqual(tokenizer);
    expect(info.variants).toEqual(['fp32', 'fp16']);
  });

  it('prints family, tokenizer, lower-casing, pad side, text length and variants as text', () => {
    const result = run('model', 'inspect', join(models, 'tiny-siglip2'));
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^family +SigLIP 2$/m);
    expect(result.stdout).toMatch(/^tokenizer +Gemma BPE with byte fallback \(Siglip2Tokenizer\); lower-cases text .*--no-lowercase.*; pads on the left$/m);
    expect(result.stdout).toMatch(/^text length +64 tokens/m);
    expect(result.stdout).toMatch(/^variants +fp32, fp16$/m);
  });

  it('lists a quantized variant when its files are there', () => {
    const dir = join(scratch, 'quantized');
    cpSync(join(models, 'tiny-siglip2'), dir, { recursive: true });
    for (const tower of ['vision', 'text']) copyFileSync(join(dir, `onnx/${tower}_model.onnx`), join(dir, `onnx/${tower}_model_quantized.onnx`));
    const result = run('model', 'inspect', dir, '--json', '--no-verify-hash');
    expect(result.status).toBe(0);
    expect((JSON.parse(result.stdout) as Inspected).variants).toEqual(['fp32', 'fp16', 'quantized']);
  });

  it('refuses a NaFlex directory (model_type siglip2) and says why', () => {
    const dir = join(scratch, 'naflex');
    cpSync(join(models, 'tiny-siglip2'), dir, { recursive: true });
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, model_type: 'siglip2', architectures: ['Siglip2Model'] }));
    const result = run('model', 'inspect', dir);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('SigLIP 2 NaFlex (Siglip2Model), which is not supported');
  });
});

describe('siglip-batch model tokenize on SigLIP 2', () => {
  const reference = JSON.parse(readFileSync(join(root, 'fixtures/reference/tiny-siglip2/reference.json'), 'utf8')) as {
    tokenizer_cases: Array<{ text: string; padded: number[]; ids_no_lowercase: number[] }>;
  };
  const cases = reference.tokenizer_cases.filter((c) => ['Hello World', 'HELLO WORLD', 'ΣΊΣΥΦΟΣ', 'Café au lait', '<EOS>'].includes(c.text));

  it("lower-cases by default (Siglip2Tokenizer's ids, padded on the left)", () => {
    expect(cases).toHaveLength(5);
    const result = run('model', 'tokenize', '--model', join(models, 'tiny-siglip2'), ...cases.map((c) => c.text));
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(cases.map((c) => ({ text: c.text, input_ids: c.padded })));
  });

  it("--no-lowercase gives GemmaTokenizer's ids", () => {
    const result = run('model', 'tokenize', '--no-lowercase', '--model', join(models, 'tiny-siglip2'), ...cases.map((c) => c.text));
    expect(result.status).toBe(0);
    const padded = cases.map((c) => [...new Array<number>(64 - c.ids_no_lowercase.length).fill(0), ...c.ids_no_lowercase]);
    expect(JSON.parse(result.stdout)).toEqual(cases.map((c, i) => ({ text: c.text, input_ids: padded[i] })));
    expect(padded[0]).not.toEqual(cases[0]!.padded);
  });
});
