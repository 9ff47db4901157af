import { InvalidArgumentError, Option, type Command } from 'commander';
import { EMBEDDING_DTYPES, type EmbeddingDtype } from '@siglip-batch/io';
import { DECODE_MODES, DEFAULT_REDUCING_GAP, decodeMode, type DecodeMode } from '@siglip-batch/model';
import { addConfigFileOptions } from './config-file';
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
  embeddingDtype?: EmbeddingDtype;
}

/** `--embedding-dtype`: also taken by `embed`, which has run options of its own. */
export function embeddingDtypeOption(): Option {
  return new Option(
    '--embedding-dtype <dtype>',
    'storage type of the part files\' embedding column: float32, or float16 (half the bytes; readers cast to float32) (default: float32)',
  ).choices(EMBEDDING_DTYPES);
}

/**
 * `--source-kind`: taken by `enqueue` and `embed`. A source's kind is told from its name (a
 * manifest.json is an S3 Inventory report); `inventory` also takes an inventory configuration's
 * folder (`s3://dest/prefix/<source-bucket>/<config-id>/`), whose newest report is used;
 * `manifest` also takes a folder of manifests (an S3 prefix or a directory), which becomes
 * `<folder>/**` (libs/pipeline source-kind-resolver.ts).
 */
export function sourceKindOption(): Option {
  return new Option(
    '--source-kind <kind>',
    "auto: from --source's name; inventory: --source is an S3 Inventory report's manifest.json, or its configuration folder " +
      '(<dest-prefix>/<source-bucket>/<config-id>/: its newest report is used); manifest: --source is a manifest, or a folder of them ' +
      '(s3://b/lists/ or a directory: every .txt/.lst/.list/.uris/.parquet file under it, one planning unit each) (default: auto)',
  ).choices(['auto', 'inventory', 'manifest']);
}

/** `--decode` and `--reducing-gap`: taken by `enqueue`, `embed`, `schedule`, `model preprocess` and `model embed`. */
export interface DecodeCliOptions {
  decode?: 'exact' | 'fast';
  reducingGap?: number;
}

/** Adds `--decode` and `--reducing-gap` to `command` (one definition for every command that decodes). */
export function addDecodeOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--decode <mode>',
        'exact: decode every image at full resolution, as PIL does; fast: decode JPEG and WebP at 1/2, 1/4 or 1/8 scale ' +
          "(libjpeg's DCT scaling, Pillow's draft()) keeping --reducing-gap × the model's size, then the same resize (default: exact)",
      ).choices(DECODE_MODES),
    )
    .option('--reducing-gap <n>', `with --decode fast: the reduced image keeps at least n × the model's input size on both sides (≥ 1; default ${DEFAULT_REDUCING_GAP})`, reducingGapArgument);
}

/** The decode mode the flags ask for; `--reducing-gap` without `--decode fast` is refused. */
export function decodeModeOf(options: DecodeCliOptions): DecodeMode {
  if (options.reducingGap !== undefined && options.decode !== 'fast') {
    throw new Error('--reducing-gap applies to --decode fast only: add --decode fast');
  }
  return decodeMode(options.decode ?? 'exact', options.reducingGap ?? DEFAULT_REDUCING_GAP);
}

function reducingGapArgument(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 1 || n > 1000) throw new InvalidArgumentError(`--reducing-gap must be a number from 1 to 1000, got ${JSON.stringify(value)}`);
  return n;
}

/** Adds the options of {@link RunCliOptions} to `command`, and `--config` / `--print-config`. */
export function addRunOptions(command: Command): Command {
  // A run's options may come from a file too (`--config run.yaml`), as may every other flag of the command.
  return addConfigFileOptions(command)
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
    )
    .addOption(embeddingDtypeOption());
}
