import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findLogitParameters } from './logit-parameters';
import { scanOnnxModel } from './onnx-graph-scan';
import { buildCombinedLogits } from './testing/onnx-builder';
import { LIB_FIXTURES_DIR, TINY_MODEL_DIR } from './testing/model-fixtures';

const f32 = Math.fround;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'logit-params-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function scan(model: Buffer, files: Record<string, Buffer> = {}) {
  const path = join(dir, `m-${Math.random().toString(36).slice(2)}.onnx`);
  await writeFile(path, model);
  for (const [name, data] of Object.entries(files)) await writeFile(join(dir, name), data);
  return scanOnnxModel(path, { nodes: true });
}

describe('findLogitParameters on real exporter output (test-fixtures/make-combined-onnx.py)', () => {
  it.each(['torchscript', 'folded'])('finds them in the %s export of a whole SiglipModel', async (variant) => {
    const expected = JSON.parse(await readFile(join(LIB_FIXTURES_DIR, 'combined-siglip.json'), 'utf8')) as {
      logit_scale: number;
      logit_bias: number;
    };
    const graph = await scanOnnxModel(join(LIB_FIXTURES_DIR, `combined-siglip-${variant}.onnx`), { nodes: true });
    expect(findLogitParameters(graph)).toEqual({ logitScale: f32(expected.logit_scale), logitBias: f32(expected.logit_bias) });
  });

  it('reads graph inputs and outputs with their dims', async () => {
    const graph = await scanOnnxModel(join(LIB_FIXTURES_DIR, 'combined-siglip-folded.onnx'));
    expect(graph.inputs.map((i) => [i.name, i.elemType, i.dims])).toEqual([
      ['input_ids', 7, ['text_batch', 4]],
      ['pixel_values', 1, ['image_batch', 3, 28, 28]],
    ]);
    expect(graph.outputs.map((o) => o.name)).toEqual(['logits_per_image', 'logits_per_text', 'text_embeds', 'image_embeds']);
    expect(graph.nodes).toEqual([]); // not asked for
  });
});

describe('findLogitParameters on built graphs', () => {
  it('follows Exp(scale) → Mul → Add(bias) with exporter names', async () => {
    const graph = await scan(buildCombinedLogits({ logitScale: 4.7, logitBias: -16.5 }));
    expect(findLogitParameters(graph)).toEqual({ logitScale: f32(4.7), logitBias: f32(-16.5) });
  });

  it('takes the log of a folded exp(scale) multiplier', async () => {
    const found = findLogitParameters(await scan(buildCombinedLogits({ logitScale: 2.3, logitBias: -10, folded: true })));
    expect(found?.logitScale).toBeCloseTo(2.3, 6);
    expect(found?.logitBias).toBe(-10);
  });

  it('reads a bias given as a Constant node', async () => {
    const found = findLogitParameters(await scan(buildCombinedLogits({ logitScale: 1.5, logitBias: 0.25, biasAsConstant: true })));
    expect(found).toEqual({ logitScale: 1.5, logitBias: 0.25 });
  });

  it('reads a scale kept in an external data file, without loading anything else', async () => {
    const data = Buffer.alloc(4);
    data.writeFloatLE(3.25, 0);
    const graph = await scan(buildCombinedLogits({ logitScale: 0, logitBias: -2, externalScale: true }), { 'model.onnx_data': data });
    expect([...graph.externalDataFiles]).toEqual(['model.onnx_data']);
    expect(findLogitParameters(graph)).toEqual({ logitScale: 3.25, logitBias: -2 });
  });

  it('finds nothing in a graph without the pattern', async () => {
    const graph = await scanOnnxModel(join(TINY_MODEL_DIR, 'onnx/text_model.onnx'), { nodes: true });
    expect(findLogitParameters(graph)).toBeUndefined();
  });

  it('refuses a file that is not an ONNX model', async () => {
    const path = join(dir, 'not-onnx.onnx');
    await writeFile(path, 'this is text, not protobuf');
    await expect(scanOnnxModel(path)).rejects.toThrow();
  });
});
