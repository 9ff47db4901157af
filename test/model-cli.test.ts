/** `siglip-batch model …` as a user runs it: the workspace bin, in its own process, on the committed fixtures. */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = `${root}node_modules/.bin/siglip-batch`;
const model = join(root, 'fixtures/models/tiny-siglip');
const images = join(root, 'fixtures/images');
const broken = join(root, 'fixtures/images-broken');
const reference = JSON.parse(readFileSync(join(root, 'fixtures/reference/tiny-siglip/reference.json'), 'utf8')) as {
  labels: string[];
  texts: Array<{ text: string; input_ids: number[] }>;
  images: Array<{ file: string; width: number; height: number; embedding: number[]; probs: number[]; pixels: string }>;
};
const scratch = mkdtempSync(join(tmpdir(), 'model-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function run(...args: string[]) {
  return spawnSync(bin, args, { cwd: root, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
}

describe('siglip-batch model', () => {
  it('inspect prints checkpoint, sizes, scale/bias, variants and providers', () => {
    const result = run('model', 'inspect', model, '--json');
    expect(result.status).toBe(0);
    const info = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(info).toMatchObject({ checkpoint: 'random:tiny:seed=0', embed_dim: 32, image_size: { height: 224, width: 224 }, text_length: 16 });
    expect(info['variants']).toEqual(['fp32', 'fp16']);
    expect(info['execution_providers']).toContain('cpu');
    expect(typeof info['logit_scale']).toBe('number');
  });

  it('inspect names every problem of a broken directory and exits non-zero', () => {
    const dir = join(scratch, 'broken-model');
    mkdirSync(join(dir, 'onnx'), { recursive: true });
    for (const f of ['config.json', 'preprocessor_config.json', 'tokenizer.json']) copyFileSync(join(model, f), join(dir, f));
    copyFileSync(join(model, 'onnx/text_model.onnx'), join(dir, 'onnx/text_model.onnx'));
    const result = run('model', 'inspect', dir);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('missing vision model onnx/vision_model.onnx');
    expect(result.stderr).toContain('no logit_scale and logit_bias');
  });

  it('tokenize prints the reference input ids', () => {
    const texts = reference.texts.slice(0, 12);
    const result = run('model', 'tokenize', '--model', model, ...texts.map((t) => t.text));
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(texts.map((t) => ({ text: t.text, input_ids: t.input_ids })));
  });

  it('preprocess writes little-endian float32 CHW equal to the reference pixels, and reports failures', async () => {
    const out = join(scratch, 'pixels');
    const result = run('model', 'preprocess', '--model', model, '--out-dir', out, join(images, 'coffee_crop_300x120.png'), join(broken, 'truncated.png'));
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/truncated\.png: decode_failed/);
    expect(readdirSync(out)).toEqual(['coffee_crop_300x120.png.f32']);
    const bytes = readFileSync(join(out, 'coffee_crop_300x120.png.f32'));
    expect(bytes.length).toBe(3 * 224 * 224 * 4);
    const entry = reference.images.find((i) => i.file === 'coffee_crop_300x120.png')!;
    const { data } = await sharp(join(root, 'fixtures/reference/tiny-siglip', entry.pixels)).raw().toBuffer({ resolveWithObject: true });
    const plane = 224 * 224;
    let maxAbs = 0;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) {
        const expected = (data[p * 3 + c]! / 255 - 0.5) / 0.5;
        maxAbs = Math.max(maxAbs, Math.abs(bytes.readFloatLE((c * plane + p) * 4) - expected));
      }
    }
    expect(maxAbs).toBeLessThan(1e-6);
  });

  it('preprocess and embed --decode fast: the 4000×3000 JPEG as Pillow drafts and resizes it, close to exact', async () => {
    const out = join(scratch, 'fast-pixels');
    const large = join(images, 'astronaut_large_4000x3000.jpg');
    const result = run('model', 'preprocess', '--model', model, '--out-dir', out, '--decode', 'fast', large);
    expect(result.status, result.stderr).toBe(0);
    const bytes = readFileSync(join(out, 'astronaut_large_4000x3000.jpg.f32'));
    // fixtures/reference/fast-decode: Pillow's draft('RGB', (448, 448)) + resize((224, 224), BICUBIC).
    const { data } = await sharp(join(root, 'fixtures/reference/fast-decode/astronaut_large_4000x3000.jpg.png')).raw().toBuffer({ resolveWithObject: true });
    const plane = 224 * 224;
    let maxAbs = 0;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) maxAbs = Math.max(maxAbs, Math.abs(bytes.readFloatLE((c * plane + p) * 4) - (data[p * 3 + c]! / 255 - 0.5) / 0.5));
    }
    expect(maxAbs).toBeLessThan(1e-6);

    const embedded = run('model', 'embed', '--model', model, '--decode', 'fast', '--reducing-gap', '2', large);
    expect(embedded.status, embedded.stderr).toBe(0);
    const fast = (JSON.parse(embedded.stdout) as { embedding: number[] }).embedding;
    const exact = reference.images.find((i) => i.file === 'astronaut_large_4000x3000.jpg')!.embedding;
    const cosine = fast.reduce((sum, v, i) => sum + v * exact[i]!, 0);
    expect(cosine).toBeGreaterThan(0.99);
    expect(cosine).toBeLessThan(0.999999);
  });

  it('embed prints one line per file of a folder of good and broken images, in order', () => {
    const dir = join(scratch, 'mixed');
    mkdirSync(dir);
    const good = ['chelsea.webp', 'motorcycle_exif6.jpg', 'pixel_1x1.png'];
    for (const f of good) copyFileSync(join(images, f), join(dir, f));
    for (const f of readdirSync(broken)) if (!f.startsWith('bomb')) copyFileSync(join(broken, f), join(dir, f));
    copyFileSync(join(broken, 'bomb_header_only.png'), join(dir, 'bomb.png'));
    const files = readdirSync(dir).sort();

    const result = run('model', 'embed', '--model', model, '--labels', reference.labels.join(','), '--batch-size', '4', dir);
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l['uri'])).toEqual(files.map((f) => pathToFileURL(join(dir, f)).href));
    const byFile = new Map(lines.map((l) => [String(l['uri']).split('/').pop(), l]));
    for (const f of good) {
      const line = byFile.get(f)!;
      const ref = reference.images.find((i) => i.file === f)!;
      expect(line).toMatchObject({ status: 'ok', error_code: null, error: null, width: ref.width, height: ref.height });
      const embedding = line['embedding'] as number[];
      expect(embedding.reduce((s, v, i) => s + v * ref.embedding[i]!, 0)).toBeGreaterThan(0.999);
      const scores = line['scores'] as number[];
      expect(Math.max(...scores.map((s, i) => Math.abs(s - ref.probs[i]!)))).toBeLessThan(1e-3);
      const tags = line['tags'] as string[];
      expect(tags).toEqual(reference.labels.filter((_, i) => scores[i]! >= 0.1).sort((a, b) => scores[reference.labels.indexOf(b)]! - scores[reference.labels.indexOf(a)]!));
    }
    expect(byFile.get('empty.jpg')).toMatchObject({ status: 'error', error_code: 'empty_object', embedding: null });
    expect(byFile.get('drawing.svg')).toMatchObject({ status: 'error', error_code: 'unsupported_format' });
    expect(byFile.get('truncated.jpg')).toMatchObject({ status: 'error', error_code: 'decode_failed' });
    expect(byFile.get('bomb.png')).toMatchObject({ status: 'error', error_code: 'too_large_pixels' });
  });

  it('embed --device cuda fails loudly instead of falling back to the CPU', () => {
    const result = run('model', 'embed', '--model', model, '--device', 'cuda:0', join(images, 'chelsea.webp'));
    expect(result.status).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/device cuda:0 cannot be used/);
  });
});
