/**
 * Hub repositories made from the committed tiny model, laid out as Xenova / onnx-community
 * publish SigLIP ONNX exports (no siglip-batch.json; towers under onnx/ with variant suffixes).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCombinedLogits } from '../../libs/model/src/testing/onnx-builder';
import type { HubRepoSpec } from './hub-server';
import { TINY_MODEL } from './cli';

const TOP = ['config.json', 'preprocessor_config.json', 'special_tokens_map.json', 'spiece.model', 'tokenizer.json', 'tokenizer_config.json'];
const TOWERS = ['vision_model', 'text_model'];

/** The tiny model's logit scale / bias (its sidecar), put into the repos' combined graph or safetensors. */
export function tinyLogits(): { scale: number; bias: number } {
  const sidecar = JSON.parse(readFileSync(join(TINY_MODEL, 'siglip-batch.json'), 'utf8')) as { logit_scale: number; logit_bias: number };
  return { scale: sidecar.logit_scale, bias: sidecar.logit_bias };
}

function base(): Record<string, Buffer> {
  const files: Record<string, Buffer> = {
    '.gitattributes': Buffer.from('*.onnx filter=lfs diff=lfs merge=lfs -text\n*.onnx_data filter=lfs diff=lfs merge=lfs -text\n'),
    'README.md': Buffer.from('---\nlibrary_name: transformers.js\n---\n'),
    'quantize_config.json': Buffer.from('{"per_channel": true, "reduce_range": true}\n'),
  };
  for (const f of TOP) files[f] = readFileSync(join(TINY_MODEL, f));
  return files;
}

function towers(variants: Array<'' | '_fp16'>): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  for (const v of variants) for (const t of TOWERS) files[`onnx/${t}${v}.onnx`] = readFileSync(join(TINY_MODEL, 'onnx', `${t}${v}.onnx`));
  return files;
}

const isLfs = (path: string): boolean => /\.(onnx|onnx_data|safetensors|model)$/.test(path);

/** Xenova layout: fp32 + fp16 towers, and the combined `onnx/model.onnx` with its scale in `model.onnx_data`. */
export function xenovaRepo(id: string, refs: string[] = []): HubRepoSpec {
  const { scale, bias } = tinyLogits();
  const data = Buffer.alloc(4);
  data.writeFloatLE(scale);
  return {
    id,
    refs,
    lfs: isLfs,
    files: {
      ...base(),
      ...towers(['', '_fp16']),
      'onnx/model.onnx': buildCombinedLogits({ logitScale: scale, logitBias: bias, externalScale: true }),
      'onnx/model.onnx_data': data,
    },
  };
}

/** fp32 towers only, logit scale / bias in `model.safetensors` (header + two F32 scalars). */
export function safetensorsRepo(id: string): HubRepoSpec {
  const { scale, bias } = tinyLogits();
  return { id, lfs: isLfs, files: { ...base(), ...towers(['']), 'model.safetensors': safetensorsScalars({ logit_scale: scale, logit_bias: bias }) } };
}

/** Only a combined graph: nothing to embed images and texts separately with. */
export function combinedOnlyRepo(id: string): HubRepoSpec {
  const { scale, bias } = tinyLogits();
  return { id, lfs: isLfs, files: { ...base(), 'onnx/model.onnx': buildCombinedLogits({ logitScale: scale, logitBias: bias }) } };
}

function safetensorsScalars(values: Record<string, number>): Buffer {
  const names = Object.keys(values);
  const header: Record<string, unknown> = {};
  names.forEach((name, i) => (header[name] = { dtype: 'F32', shape: [], data_offsets: [i * 4, i * 4 + 4] }));
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const data = Buffer.alloc(names.length * 4);
  names.forEach((name, i) => data.writeFloatLE(values[name]!, i * 4));
  return Buffer.concat([length, Buffer.from(json), data]);
}
