import type { Command } from 'commander';
import { collect, nonNegativeInt, pixelLimit, positiveInt } from './parsers';

/** What a run is made of, shared by `enqueue` and `schedule` (which starts such runs). */
export interface RunCliOptions {
  model?: string;
  variant: 'fp32' | 'fp16' | 'quantized';
  labels?: string;
  labelsFile?: string;
  template: string[];
  shardSize?: number;
  priority?: number;
  suffix: string[];
  maxBytes?: number;
  maxPixels?: number;
  writeS3Tags?: boolean;
}

/** Adds the options of {@link RunCliOptions} to `command`. */
export function addRunOptions(command: Command): Command {
  return command
    .option('--model <dir>', 'model directory, s3://… model folder or hf://org/name[@revision] (its content hash selects the queue)')
    .option('--variant <variant>', 'model variant: fp32, fp16 or quantized', 'fp32')
    .option('--labels <list>', 'comma-separated labels to score')
    .option('--labels-file <file>', 'labels file: text (one per line), JSON or YAML (labels with prompts and thresholds)')
    .option('--template <text>', 'prompt template with {} (repeatable; several are averaged)', collect, [] as string[])
    .option('--shard-size <n>', 'objects per shard (default 1000)', positiveInt('--shard-size'))
    .option('--priority <n>', 'BullMQ priority (1 = highest; default: none)', nonNegativeInt('--priority'))
    .option('--suffix <ext>', 'only objects whose key ends with this (repeatable, e.g. .jpg)', collect, [] as string[])
    .option('--max-bytes <n>', 'objects larger than this become too_large_bytes error rows', positiveInt('--max-bytes'))
    .option('--max-pixels <n>', 'images with more pixels become too_large_pixels error rows (bombs; at most 1000000000, and no worker goes above its own --max-pixels)', pixelLimit('--max-pixels'))
    .option(
      '--write-s3-tags',
      "write each object's tags back as S3 object tags `siglip:<label>` = score (S3 sources with labels only; " +
        'foreign tags are kept, our own replaced, at most 10 in all: our lowest scores are dropped first)',
    );
}
