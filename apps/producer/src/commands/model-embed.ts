import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { mapBounded, s3OptionsFromEnv } from '@siglip-batch/io';
import {
  allocatePixelBatch,
  buildLabelSet,
  DEFAULT_TEMPLATE,
  ImageError,
  MODEL_VARIANTS,
  SiglipModel,
  type LabelInput,
  type LabelScorer,
  type ModelVariant,
} from '@siglip-batch/model';
import { Command, Option } from 'commander';
import { resolveModelDir } from '../shared/model-dir';
import { addDecodeOptions, decodeModeOf, type DecodeCliOptions } from '../shared/run-options';
import { positiveInt } from '../shared/parsers';
import { expandImageArguments } from './model-files';

interface EmbedOptions extends DecodeCliOptions {
  model: string;
  labels?: string;
  labelsFile?: string;
  template: string[];
  threshold?: number;
  device: string;
  variant: ModelVariant;
  batchSize: number;
  threads?: number;
  maxPixels: number;
  concurrency: number;
  /** false with `--no-lowercase`. */
  lowercase: boolean;
}

/** One output line (architecture §3 column names). */
interface EmbedLine {
  uri: string;
  status: 'ok' | 'error';
  error_code: string | null;
  error: string | null;
  width: number | null;
  height: number | null;
  embedding: number[] | null;
  scores?: number[] | null;
  tags?: string[] | null;
}

/** `siglip-batch model embed --model <dir> [labels] <image…>`: one JSON line per image. */
export function registerModelEmbedCommand(model: Command): void {
  const command = model
    .command('embed')
    .description(
      'embed local images and print one JSON line per image: uri, status (ok | error), error_code, error, width, height, ' +
        'embedding (L2-normalised) and, with labels, scores (sigmoid probabilities, label order) and tags (score ≥ threshold, best first). ' +
        'Directories are expanded to their files; a bad file gives an error line, not a failure',
    )
    .requiredOption('--model <dir>', 'model directory, s3://… model folder or hf://org/name[@revision]')
    .option('--labels <a,b,…>', 'comma-separated labels')
    .option('--labels-file <file>', 'labels: a JSON array (of strings or {label, prompts?, threshold?}) or one label per line')
    .addOption(
      new Option('--template <template>', 'prompt template, {} is the label; repeat to average several')
        .argParser(collect)
        .default([], JSON.stringify(DEFAULT_TEMPLATE)),
    )
    .option('--threshold <p>', 'tag threshold of labels that set none (default 0.1)', parseProbability)
    .option('--device <device>', 'cpu, cuda or cuda:N (CUDA never falls back to the CPU)', 'cpu')
    .addOption(new Option('--variant <variant>', 'model files to use').choices([...MODEL_VARIANTS]).default('fp32'))
    .option('--batch-size <n>', 'images per inference batch', positiveInt('--batch-size'), 16)
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: all cores)', positiveInt('--threads'))
    .option('--max-pixels <n>', 'refuse images larger than this many pixels', positiveInt('--max-pixels'), 100_000_000)
    .option('--concurrency <n>', 'images decoded at once', positiveInt('--concurrency'), 4)
    .option('--no-lowercase', "label prompts: do not lower-case (SigLIP 2: GemmaTokenizer's ids instead of Siglip2Tokenizer's)")
    .argument('<image...>', 'image files or directories');
  addDecodeOptions(command).action(async (images: string[], options: EmbedOptions) => {
    const labels = await readLabels(options);
    const set = labels
      ? buildLabelSet(labels, {
          ...(options.template.length ? { templates: options.template } : {}),
          ...(options.threshold !== undefined ? { threshold: options.threshold } : {}),
        })
      : undefined;
    const files = await expandImageArguments(images);
    const siglip = await SiglipModel.load(await resolveModelDir(options.model, s3OptionsFromEnv(), options.variant), {
      device: options.device,
      variant: options.variant,
      maxPixels: options.maxPixels,
      decode: decodeModeOf(options),
      ...(options.threads ? { intraOpThreads: options.threads } : {}),
      ...(options.lowercase === false ? { lowercase: false } : {}),
    });
    try {
      const scorer = set ? await siglip.labelScorer(set) : undefined;
      for (let start = 0; start < files.length; start += options.batchSize) {
        const chunk = files.slice(start, start + options.batchSize);
        for (const line of await embedChunk(siglip, scorer, chunk, options.concurrency)) {
          process.stdout.write(`${JSON.stringify(line)}\n`);
        }
      }
    } finally {
      await siglip.close();
    }
  });
}

/** Decodes a chunk of files into one batch, embeds the good ones, and returns a line per file in order. */
async function embedChunk(siglip: SiglipModel, scorer: LabelScorer | undefined, files: string[], concurrency: number): Promise<EmbedLine[]> {
  const batch = allocatePixelBatch(siglip.preprocessor, files.length);
  const decoded = await mapBounded(files, concurrency, async (file, index) => {
    try {
      return { ok: true as const, ...(await siglip.preprocessor.preprocessInto(await readFile(file), batch, index)) };
    } catch (error) {
      return { ok: false as const, ...describeFailure(error) };
    }
  });
  // Failed images leave a hole in the batch; the good ones are packed so none is embedded twice.
  const good = decoded.flatMap((d, i) => (d.ok ? [i] : []));
  let embeddings: Float32Array = new Float32Array(0);
  let scores: Float32Array | undefined;
  if (good.length > 0) {
    const per = siglip.preprocessor.valuesPerImage;
    const packed = allocatePixelBatch(siglip.preprocessor, good.length);
    good.forEach((from, to) => packed.set(batch.subarray(from * per, (from + 1) * per), to * per));
    embeddings = await siglip.embedImages(packed, good.length);
    scores = scorer?.score(embeddings);
  }
  const dim = siglip.embedDim;
  return files.map((file, i) => {
    const uri = pathToFileURL(file).href;
    const d = decoded[i]!;
    if (!d.ok) {
      return {
        uri,
        status: 'error',
        error_code: d.code,
        error: d.message,
        width: null,
        height: null,
        embedding: null,
        ...(scorer ? { scores: null, tags: null } : {}),
      };
    }
    const row = good.indexOf(i);
    const line: EmbedLine = {
      uri,
      status: 'ok',
      error_code: null,
      error: null,
      width: d.width,
      height: d.height,
      embedding: compact(embeddings.subarray(row * dim, (row + 1) * dim)),
    };
    if (scorer && scores) {
      const own = scorer.row(scores, row);
      line.scores = compact(own.scores);
      line.tags = own.tags;
    }
    return line;
  });
}

function describeFailure(error: unknown): { code: string; message: string } {
  if (error instanceof ImageError) return { code: error.code, message: error.message };
  const errno = (error as NodeJS.ErrnoException).code;
  if (errno === 'ENOENT') return { code: 'not_found', message: (error as Error).message };
  if (errno === 'EISDIR' || errno === 'EACCES') return { code: 'unreadable', message: (error as Error).message };
  throw error;
}

/** float32 values as the shortest decimals that read back as the same float32 (9 significant digits). */
function compact(values: Float32Array): number[] {
  return Array.from(values, (v) => Number(v.toPrecision(9)));
}

async function readLabels(options: EmbedOptions): Promise<LabelInput[] | undefined> {
  if (options.labels !== undefined && options.labelsFile !== undefined) throw new Error('give --labels or --labels-file, not both');
  if (options.labels !== undefined) return options.labels.split(',').map((l) => l.trim());
  if (options.labelsFile === undefined) {
    if (options.template.length || options.threshold !== undefined) throw new Error('--template and --threshold need --labels or --labels-file');
    return undefined;
  }
  const text = await readFile(options.labelsFile, 'utf8');
  if (text.trimStart().startsWith('[')) return JSON.parse(text) as LabelInput[];
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function parseProbability(value: string): number {
  const p = Number(value);
  if (!(p >= 0 && p <= 1)) throw new Error(`--threshold must be within [0, 1], got "${value}"`);
  return p;
}
