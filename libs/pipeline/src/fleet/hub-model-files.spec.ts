import { describe, expect, it } from 'vitest';
import { selectHubFiles, variantsPresent, type HubFileEntry } from './hub-model-files';

const file = (path: string, size = 100): HubFileEntry => ({ path, size, oid: 'a'.repeat(40) });
const paths = (entries: HubFileEntry[]) => entries.map((e) => e.path).sort();

/** What Xenova/siglip-base-patch16-224 holds (root and onnx/, as listed on the Hub). */
const XENOVA_BASE = [
  '.gitattributes', 'README.md', 'config.json', 'preprocessor_config.json', 'quantize_config.json', 'special_tokens_map.json',
  'spiece.model', 'tokenizer.json', 'tokenizer_config.json',
  ...['model', 'text_model', 'vision_model'].flatMap((m) => ['', '_fp16', '_quantized'].map((v) => `onnx/${m}${v}.onnx`)),
].map((p) => file(p, p === 'onnx/model.onnx' ? 813_000_000 : 100));

/** The transformers.js conversion's full variant set (onnx-community, Marqo …), towers + external data. */
const ONNX_COMMUNITY = [
  'config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer.model', 'tokenizer_config.json', 'special_tokens_map.json',
  ...['model', 'text_model', 'vision_model'].flatMap((m) => ['', '_fp16', '_quantized', '_int8', '_uint8', '_q4', '_q4f16', '_bnb4'].map((v) => `onnx/${m}${v}.onnx`)),
  'onnx/text_model.onnx_data', 'onnx/text_model.onnx_data_1', 'onnx/text_model_fp16.onnx_data', 'onnx/model.onnx_data',
].map((p) => file(p));

describe('selectHubFiles', () => {
  it('fp32 of the Xenova layout: the two towers, config/tokenizer files and the combined graph for logit scale/bias', () => {
    const s = selectHubFiles('Xenova/siglip-base-patch16-224', XENOVA_BASE, 'fp32');
    expect(s.layout).toBe('hub');
    expect(s.logitSource).toBe('onnx/model.onnx');
    expect(paths(s.files)).toEqual([
      'config.json', 'onnx/model.onnx', 'onnx/text_model.onnx', 'onnx/vision_model.onnx', 'preprocessor_config.json',
      'special_tokens_map.json', 'spiece.model', 'tokenizer.json', 'tokenizer_config.json',
    ]);
  });

  it('each variant takes its own towers and their external data, never another variant’s', () => {
    const q4f16 = selectHubFiles('onnx-community/x', ONNX_COMMUNITY, 'q4f16');
    expect(paths(q4f16.files).filter((p) => p.startsWith('onnx/'))).toEqual(['onnx/model.onnx', 'onnx/model.onnx_data', 'onnx/text_model_q4f16.onnx', 'onnx/vision_model_q4f16.onnx']);
    const fp32 = selectHubFiles('onnx-community/x', ONNX_COMMUNITY, 'fp32');
    expect(paths(fp32.files).filter((p) => p.startsWith('onnx/text'))).toEqual(['onnx/text_model.onnx', 'onnx/text_model.onnx_data', 'onnx/text_model.onnx_data_1']);
    expect(paths(selectHubFiles('onnx-community/x', ONNX_COMMUNITY, 'fp16').files)).toContain('onnx/text_model_fp16.onnx_data');
    expect(paths(fp32.files)).toContain('tokenizer.model');
    expect(variantsPresent(new Set(ONNX_COMMUNITY.map((e) => e.path)))).toEqual(['fp32', 'fp16', 'quantized', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4']);
  });

  it('reads logit scale/bias from model.safetensors when it is smaller than the combined graph', () => {
    const withWeights = [...XENOVA_BASE, file('model.safetensors', 812_000_000)];
    expect(selectHubFiles('r', withWeights, 'fp16').logitSource).toBe('model.safetensors');
    const bigWeights = [...XENOVA_BASE, file('model.safetensors', 900_000_000)];
    expect(selectHubFiles('r', bigWeights, 'fp16').logitSource).toBe('onnx/model.onnx');
    expect(paths(selectHubFiles('r', bigWeights, 'fp16').files)).not.toContain('model.safetensors');
  });

  it('a repo with our own export (siglip-batch.json) is taken whole but for README/.gitattributes: its content hash covers every graph', () => {
    const ours = ['siglip-batch.json', 'README.md', 'config.json', 'preprocessor_config.json', 'tokenizer.json', 'spiece.model',
      'onnx/vision_model.onnx', 'onnx/text_model.onnx', 'onnx/vision_model_fp16.onnx', 'onnx/text_model_fp16.onnx'].map((p) => file(p));
    const s = selectHubFiles('me/mine', ours, 'fp16');
    expect(s.layout).toBe('siglip-batch');
    expect(s.logitSource).toBe('sidecar');
    expect(paths(s.files)).toHaveLength(9);
    expect(() => selectHubFiles('me/mine', ours, 'q4')).toThrow(/variant q4 missing.*variants with both towers: fp32, fp16/);
  });

  it('names every problem at once: missing variant, missing config files, no logit source', () => {
    const bare = [file('onnx/vision_model.onnx'), file('onnx/text_model.onnx'), file('tokenizer.json')];
    expect(() => selectHubFiles('o/r', bare, 'fp32')).toThrow(
      'o/r: no config.json, preprocessor_config.json; no siglip-batch.json, model.safetensors or onnx/model.onnx to read logit_scale / logit_bias from',
    );
    expect(() => selectHubFiles('o/r', XENOVA_BASE, 'bnb4')).toThrow(
      'o/r: variant bnb4 missing: no onnx/vision_model_bnb4.onnx + onnx/text_model_bnb4.onnx (variants with both towers: fp32, fp16, quantized)',
    );
    const combinedOnly = XENOVA_BASE.filter((e) => !/(vision|text)_model/.test(e.path));
    expect(() => selectHubFiles('o/r', combinedOnly, 'fp32')).toThrow(/only a combined onnx\/model_\*\.onnx, which cannot embed images and texts separately: fp32, fp16, quantized/);
  });
});
