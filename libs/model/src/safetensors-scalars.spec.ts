import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensorsScalars } from './safetensors-scalars';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'safetensors-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A safetensors file: 8-byte header length, JSON header, then the tensors' bytes. */
function safetensors(tensors: Record<string, { dtype: string; shape: number[]; data: Buffer }>): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const blobs: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    blobs.push(t.data);
    offset += t.data.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, ...blobs]);
}

const float = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeFloatLE(v);
  return b;
};

describe('readSafetensorsScalars', () => {
  it('reads logit_scale and logit_bias between large weights, with or without a prefix', async () => {
    const path = join(dir, 'model.safetensors');
    await writeFile(
      path,
      safetensors({
        'text_model.embeddings.token_embedding.weight': { dtype: 'F32', shape: [1000, 64], data: Buffer.alloc(256_000) },
        'model.logit_scale': { dtype: 'F32', shape: [1], data: float(4.765) },
        logit_bias: { dtype: 'BF16', shape: [1], data: Buffer.from([0x84, 0xc1]) }, // -16.5 in bfloat16
      }),
    );
    const found = await readSafetensorsScalars(path, ['logit_scale', 'logit_bias']);
    expect(found.get('logit_scale')).toBe(Math.fround(4.765));
    expect(found.get('logit_bias')).toBe(-16.5);
  });

  it('leaves out names that are absent or not one element', async () => {
    const path = join(dir, 'partial.safetensors');
    await writeFile(path, safetensors({ logit_scale: { dtype: 'F32', shape: [2], data: Buffer.alloc(8) } }));
    expect((await readSafetensorsScalars(path, ['logit_scale', 'logit_bias'])).size).toBe(0);
  });
});
