import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { basename, join } from 'node:path';
import { mapBounded } from '@siglip-batch/io';
import { ImageError, ImagePreprocessor, loadModelDir } from '@siglip-batch/model';
import type { Command } from 'commander';
import { addDecodeOptions, decodeModeOf, type DecodeCliOptions } from '../shared/run-options';
import { positiveInt } from '../shared/parsers';
import { expandImageArguments } from './model-files';

/** `siglip-batch model preprocess --model <dir> --out-dir <dir> <image…>`: pixel values as raw float32. */
export function registerModelPreprocessCommand(model: Command): void {
  const command = model
    .command('preprocess')
    .description(
      'write each image\'s pixel values (normalised, channels first: 3×H×W) as raw little-endian float32 to <out-dir>/<image file name>.f32; ' +
        'errors go to stderr and the exit code is non-zero if any image failed',
    )
    .requiredOption('--model <dir>', 'model directory (sizes and normalisation come from its preprocessor_config.json)')
    .requiredOption('--out-dir <dir>', 'output directory')
    .option('--max-pixels <n>', 'refuse images larger than this many pixels', positiveInt('--max-pixels'), 100_000_000)
    .option('--concurrency <n>', 'images decoded at once', positiveInt('--concurrency'), 4)
    .argument('<image...>', 'image files or directories');
  addDecodeOptions(command).action(async (images: string[], options: { model: string; outDir: string; maxPixels: number; concurrency: number } & DecodeCliOptions) => {
    const decode = decodeModeOf(options);
    const info = await loadModelDir(options.model, { verifyContentHash: false });
    const preprocessor = new ImagePreprocessor(info.preprocess, { maxPixels: options.maxPixels, decode });
    await mkdir(options.outDir, { recursive: true });
    const files = await expandImageArguments(images);
    const failures = await mapBounded(files, options.concurrency, async (file) => {
      try {
        const { pixels } = await preprocessor.preprocess(await readFile(file));
        await writeFile(join(options.outDir, `${basename(file)}.f32`), littleEndianBytes(pixels));
        return 0;
      } catch (error) {
        const code = error instanceof ImageError ? error.code : (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not_found' : 'error';
        process.stderr.write(`${file}: ${code}: ${(error as Error).message}\n`);
        return 1;
      }
    });
    const failed = failures.reduce<number>((a, b) => a + b, 0);
    if (failed > 0) {
      process.stderr.write(`${failed} of ${files.length} images failed\n`);
      process.exitCode = 1;
    }
  });
}

function littleEndianBytes(values: Float32Array): Buffer {
  if (endianness() === 'LE') return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  const out = Buffer.alloc(values.byteLength);
  values.forEach((v, i) => out.writeFloatLE(v, i * 4));
  return out;
}
