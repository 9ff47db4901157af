import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ModelLoadError } from './model-load-error';
import { loadModelDir } from './siglip-config';
import { buildCombinedLogits, buildTextTower } from './testing/onnx-builder';
import { copyTinyModel, removeDir, TINY_MODEL_DIR } from './testing/model-fixtures';

const scratch: string[] = [];
afterEach(async () => {
  await Promise.all(scratch.splice(0).map(removeDir));
});

async function brokenCopy(): Promise<string> {
  const dir = await copyTinyModel();
  scratch.push(dir);
  return dir;
}

async function editJson(path: string, edit: (json: Record<string, unknown>) => void): Promise<void> {
  const json = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  edit(json);
  await writeFile(path, JSON.stringify(json));
}

async function loadError(dir: string, options = {}): Promise<ModelLoadError> {
  const error = await loadModelDir(dir, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ModelLoadError);
  return error as ModelLoadError;
}

describe('loadModelDir', () => {
  it('reads our tiny export: sizes from config.json / preprocessor_config.json, scale and bias from the sidecar', async () => {
    const sidecar = JSON.parse(await readFile(join(TINY_MODEL_DIR, 'siglip-batch.json'), 'utf8')) as Record<string, unknown>;
    const info = await loadModelDir(TINY_MODEL_DIR);
    expect(info).toMatchObject({
      layout: 'siglip-batch',
      checkpoint: sidecar['checkpoint'],
      contentHash: sidecar['content_hash'],
      embedDim: 32,
      imageSize: { height: 224, width: 224 },
      textLength: 16,
      logitScale: sidecar['logit_scale'],
      logitBias: sidecar['logit_bias'],
      logitSource: 'sidecar',
      variant: 'fp32',
      visionFile: 'onnx/vision_model.onnx',
      textFile: 'onnx/text_model.onnx',
      preprocess: { height: 224, width: 224, doRescale: true, doNormalize: true, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
    });
    expect(info.variants).toEqual(sidecar['variants']);
    expect(info.preprocess.rescaleFactor).toBeCloseTo(1 / 255, 15);
  });

  it('fails at load naming a missing vision model', async () => {
    const dir = await brokenCopy();
    await rm(join(dir, 'onnx/vision_model.onnx'));
    const error = await loadError(dir);
    expect(error.message).toContain('missing vision model onnx/vision_model.onnx');
    expect(error.problems).toHaveLength(1);
  });

  it('fails at load naming a text model of another width', async () => {
    const dir = await brokenCopy();
    await writeFile(join(dir, 'onnx/text_model.onnx'), buildTextTower({ vocab: 1000, length: 16, width: 48 }));
    const error = await loadError(dir, { verifyContentHash: false });
    expect(error.message).toMatch(/onnx\/text_model\.onnx: pooler_output width 48 differs from the embedding width .* = 32/);
  });

  it('fails at load naming a missing logit bias and where it looked', async () => {
    const dir = await brokenCopy();
    await editJson(join(dir, 'siglip-batch.json'), (json) => delete json['logit_bias']);
    const error = await loadError(dir);
    expect(error.message).toMatch(/no logit_bias: looked in siglip-batch\.json \(no logit_bias\), no model\.safetensors, no onnx\/model\.onnx/);
  });

  it('names every problem in one error', async () => {
    const dir = await brokenCopy();
    await rm(join(dir, 'onnx/vision_model.onnx'));
    await rm(join(dir, 'tokenizer.json'));
    await editJson(join(dir, 'config.json'), (json) => {
      (json['text_config'] as Record<string, unknown>)['max_position_embeddings'] = 64;
    });
    await editJson(join(dir, 'preprocessor_config.json'), (json) => {
      json['size'] = { height: 384, width: 384 };
    });
    const error = await loadError(dir);
    const text = error.problems.join('\n');
    expect(text).toContain('missing tokenizer.json');
    expect(text).toContain('missing vision model onnx/vision_model.onnx');
    expect(text).toMatch(/preprocessor_config\.json size 384×384 differs from config\.json vision_config\.image_size 224/);
    expect(text).toMatch(/text_model\.onnx: input input_ids text length .* is 16, config says 64/);
    expect(text).toMatch(/siglip-batch\.json: text_length 16 differs from config\.json's 64/);
    expect(error.problems.length).toBeGreaterThanOrEqual(5);
  });

  it('refuses wrong tensor names', async () => {
    const dir = await brokenCopy();
    // a text tower whose input and output have other names
    const tower = buildTextTower({ vocab: 1000, length: 16, width: 32 })
      .toString('latin1')
      .replaceAll('input_ids', 'token_ids')
      .replaceAll('pooler_output', 'text_embeds__');
    await writeFile(join(dir, 'onnx/text_model.onnx'), Buffer.from(tower, 'latin1'));
    const error = await loadError(dir, { verifyContentHash: false });
    expect(error.message).toContain('onnx/text_model.onnx: no input named input_ids (inputs: token_ids)');
    expect(error.message).toContain('onnx/text_model.onnx: no output named pooler_output (outputs: last_hidden_state, text_embeds__)');
  });

  it('refuses a directory whose files no longer match the sidecar content hash', async () => {
    const dir = await brokenCopy();
    await editJson(join(dir, 'preprocessor_config.json'), (json) => {
      json['note'] = 'edited';
    });
    const error = await loadError(dir);
    expect(error.message).toMatch(/content hash mismatch: siglip-batch\.json says [0-9a-f]{64} but the files hash to [0-9a-f]{64}/);
    // trusting the sidecar skips the check
    await expect(loadModelDir(dir, { verifyContentHash: false })).resolves.toMatchObject({ layout: 'siglip-batch' });
  });

  it('names the variants present when the asked one is missing', async () => {
    const error = await loadError(TINY_MODEL_DIR, { variant: 'quantized' });
    expect(error.message).toContain('missing vision model onnx/vision_model_quantized.onnx for variant quantized (variants present: fp32, fp16)');
  });

  it('loads the hub layout (no sidecar): scale and bias from onnx/model.onnx by role, hash computed', async () => {
    const dir = await brokenCopy();
    await rm(join(dir, 'siglip-batch.json'));
    await writeFile(join(dir, 'onnx/model.onnx'), buildCombinedLogits({ logitScale: 4.5, logitBias: -12.25 }));
    const info = await loadModelDir(dir);
    expect(info).toMatchObject({ layout: 'hub', logitScale: 4.5, logitBias: -12.25, logitSource: 'onnx/model.onnx' });
    expect(info.contentHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('takes scale and bias from model.safetensors before onnx/model.onnx', async () => {
    const dir = await brokenCopy();
    await rm(join(dir, 'siglip-batch.json'));
    await writeFile(join(dir, 'onnx/model.onnx'), buildCombinedLogits({ logitScale: 1, logitBias: 1 }));
    const header = Buffer.from(
      JSON.stringify({ logit_scale: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, logit_bias: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }),
    );
    const body = Buffer.alloc(8);
    body.writeFloatLE(2.5, 0);
    body.writeFloatLE(-3.5, 4);
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    await writeFile(join(dir, 'model.safetensors'), Buffer.concat([length, header, body]));
    expect(await loadModelDir(dir)).toMatchObject({ logitScale: 2.5, logitBias: -3.5, logitSource: 'model.safetensors' });
  });

  it('refuses a hub directory without scale and bias anywhere', async () => {
    const dir = await brokenCopy();
    await rm(join(dir, 'siglip-batch.json'));
    const error = await loadError(dir);
    expect(error.message).toContain('no logit_scale and logit_bias: looked in no siglip-batch.json, no model.safetensors, no onnx/model.onnx');
  });

  it('refuses a directory that does not exist', async () => {
    const error = await loadError(join(TINY_MODEL_DIR, 'nope'));
    expect(error.problems).toEqual(['the directory does not exist']);
  });
});
