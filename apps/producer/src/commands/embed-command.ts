import type { Command } from 'commander';
import { parseLocation, useSingleFileArrow, type EmbeddingDtype } from '@siglip-batch/io';
import { runSpecSchema, type LabelSpec } from '@siglip-batch/jobs';
import {
  ProblemList,
  buildRunSpec,
  checkOutputWritable,
  checkSourceReadable,
  loadSiglipModel,
  parseLabelList,
  readLabelFile,
  resolveRunSource,
  runLocally,
  specDifferences,
  type LoadedModel,
  type SourceKindHint,
} from '@siglip-batch/pipeline';
import { openRunFolder } from '@siglip-batch/run-format';
import { addConnectionOptions, s3OptionsOf, type ConnectionOptions } from '../shared/connections';
import { log } from '../shared/cli-log';
import { addConfigFileOptions } from '../shared/config-file';
import { EXIT } from '../shared/exit-codes';
import { ProgressLine, addProgressOption, type ProgressOptions } from '../shared/progress';
import { collect, pixelLimit, positiveInt } from '../shared/parsers';
import { resolveModelDir } from '../shared/model-dir';
import { addDecodeOptions, decodeModeOf, embeddingDtypeOption, sourceKindOption, type DecodeCliOptions } from '../shared/run-options';
import { addRetryOptions, resolveRetry, type RetryCliOptions } from '../shared/retry-options';

interface EmbedCliOptions extends ConnectionOptions, RetryCliOptions, ProgressOptions, DecodeCliOptions {
  source?: string;
  sourceKind?: SourceKindHint;
  incremental?: boolean;
  out?: string;
  model?: string;
  json?: boolean;
  run?: string;
  labels?: string;
  labelsFile?: string;
  template: string[];
  device: string;
  variant: 'fp32' | 'fp16' | 'quantized';
  batchSize: number;
  shardSize?: number;
  suffix: string[];
  maxBytes?: number;
  maxPixels?: number;
  embeddingDtype?: EmbeddingDtype;
  threads?: number;
  allow: string[];
}

export function registerEmbedCommand(program: Command): void {
  const command = program
    .command('embed')
    .description('one-process mode: embed a source into a run folder without Redis (same shard processor and outputs)')
    .option('--source <uri>', 'S3 prefix, local directory, manifest, or S3 Inventory manifest.json (or --retry-errors <run>)')
    .addOption(sourceKindOption())
    .option('--out <uri>', 'output root; the run folder is <out>/<run>/')
    .option('--model <dir>', 'model directory (required)')
    .option('--run <id>', 'run id (default: local-<date>-<time>)')
    .option('--incremental', "embed only objects the output's processed index has not seen with this model and ETag; record vanished ones as deletions")
    .option('--labels <list>', 'comma-separated labels to score')
    .option('--labels-file <file>', 'labels file (text, JSON or YAML)')
    .option('--template <text>', 'prompt template with {} (repeatable)', collect, [] as string[])
    .option('--device <device>', 'cpu, cuda or cuda:N', 'cpu')
    .option('--variant <variant>', 'fp32, fp16 or quantized', 'fp32')
    .option('--batch-size <n>', 'images per inference batch', positiveInt('--batch-size'), 32)
    .option('--shard-size <n>', 'objects per shard', positiveInt('--shard-size'))
    .option('--suffix <ext>', 'only keys ending with this (repeatable)', collect, [] as string[])
    .option('--max-bytes <n>', 'larger objects become too_large_bytes rows', positiveInt('--max-bytes'))
    .option('--max-pixels <n>', 'larger images become too_large_pixels rows (default 100000000, at most 1000000000; also this process\'s ceiling over a stored run\'s own limit)', pixelLimit('--max-pixels'))
    .addOption(embeddingDtypeOption())
    .option('--threads <n>', 'ONNX Runtime intra-op threads', positiveInt('--threads'))
    .option(
      '--allow <uris>',
      "also read objects under these locations (comma-separated), e.g. those a manifest names outside its own folder (default: only the source's folder)",
      (v: string, prev: string[]) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)],
      [] as string[],
    );
  addDecodeOptions(command);
  addRetryOptions(command);
  command.option('--json', 'print {"run","folder","counts"} as JSON on stdout instead of the folder (exit code 4 when nothing was embedded)');
  addConfigFileOptions(command);
  addProgressOption(command);
  addConnectionOptions(command, false).action(async (options: EmbedCliOptions) => {
    process.exitCode = await embedCommand(options);
  });
}

async function embedCommand(options: EmbedCliOptions): Promise<number> {
  // This process writes Parquet and never opens LanceDB: apache-arrow's one-file build (~0.1 s
  // less start-up CPU; loaded while the model's sessions load).
  useSingleFileArrow();
  const s3 = s3OptionsOf(options);
  const problems = new ProblemList();
  if (options.labels !== undefined && options.labelsFile !== undefined) problems.add('give --labels or --labels-file, not both');
  const labels = await problems.check('labels', async (): Promise<{ labels: LabelSpec[] | null; templates?: string[] }> =>
    options.labels !== undefined ? { labels: parseLabelList(options.labels) } : options.labelsFile !== undefined ? readLabelFile(options.labelsFile) : { labels: null },
  );
  const retry = await resolveRetry(options, problems, s3);
  if (options.source === undefined && options.retryErrors === undefined) problems.add('--source is required (or --retry-errors <run folder>)');
  // An inventory's configuration folder → the manifest.json of its newest report, frozen in the spec.
  const resolved =
    options.source !== undefined && options.retryErrors === undefined
      ? await problems.check(`--source ${options.source}`, () => resolveRunSource(options.source!, options.sourceKind ?? 'auto', s3))
      : undefined;
  if (resolved?.note !== undefined) log('info', resolved.note);
  if (resolved) await problems.check(`--source ${options.source}`, () => checkSourceReadable(resolved.source, s3, options.incremental ? { incremental: true } : {}));
  const out = options.out ?? retry?.output;
  if (out === undefined && options.retryErrors === undefined) problems.add('--out is required');
  if (out !== undefined) await problems.check(`--out ${out}`, () => checkOutputWritable(out, s3));
  for (const uri of options.allow) await problems.check(`--allow ${uri}`, () => parseLocation(uri));
  if (options.model === undefined) problems.add('--model is required');
  const model: LoadedModel | undefined = options.model === undefined ? undefined : await problems.check(`model ${options.model}`, async () =>
    loadSiglipModel(await resolveModelDir(options.model!, s3, options.variant), {
      device: options.device,
      variant: options.variant,
      ...(options.threads ? { intraOpThreads: options.threads } : {}),
      // The ceiling of this process: a run folder's stored spec cannot raise it.
      ...(options.maxPixels ? { maxPixels: options.maxPixels } : {}),
    }),
  );
  const runId = options.run ?? `local-${new Date().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-')}`;
  const source = retry?.source ?? resolved?.source;
  let spec = model && labels && source !== undefined && out !== undefined
    ? await problems.check('run', () =>
        buildRunSpec({
          runId,
          source,
          output: out,
          model: model.ref,
          labels: labels.labels,
          templates: options.template.length > 0 ? options.template : labels.templates ?? [],
          ...(options.shardSize ? { shardSize: options.shardSize } : {}),
          suffixes: options.suffix,
          ...(options.incremental ? { incremental: true } : {}),
          ...(options.maxBytes ? { maxBytes: options.maxBytes } : {}),
          ...(options.maxPixels ? { maxPixels: options.maxPixels } : {}),
          ...(retry ? { retryErrors: retry.retryErrors } : {}),
          ...(options.embeddingDtype ? { embeddingDtype: options.embeddingDtype } : {}),
          decode: decodeModeOf(options),
        }),
      )
    : undefined;
  if (spec) {
    const folder = openRunFolder(spec, s3);
    const stored = await problems.check('run folder', () => folder.readRunSpec());
    folder.store.close();
    if (stored) {
      const differences = specDifferences(runSpecSchema.parse(stored), spec);
      if (differences.length > 0) problems.add(`run ${runId} already exists in ${out} with a different ${differences.join(', ')}`);
      else spec = runSpecSchema.parse(stored);
    }
  }
  if (problems.problems.length > 0) await model?.close();
  problems.throwIfAny();

  const progress = new ProgressLine('{bar} {value}/{total} objects{listing}', options);
  progress.start(0, { listing: ' (listing…)' });
  let closing: Promise<void> | undefined;
  const closeModel = () => (closing ??= model!.close());
  try {
    const manifest = await runLocally({
      spec: spec!,
      model: model!,
      s3,
      processor: { batchSize: options.batchSize },
      allow: options.allow,
      onProgress: (p) => progress.update(p.objectsDone, { listing: p.listingComplete ? '' : ' (listing…)' }, p.objectsPlanned),
      // The model's threads end while the run is finalised, not after it.
      onShardsDone: () => void closeModel().catch(() => undefined),
    });
    progress.stop();
    const folder = openRunFolder(spec!, s3);
    const where = folder.uriOf('');
    folder.store.close();
    log(
      'info',
      `run ${manifest.runId}: ${manifest.counts.planned} objects, ${manifest.counts.ok} embedded, ${manifest.counts.error} errors` +
        `${Object.keys(manifest.counts.byErrorCode).length ? ` (${Object.entries(manifest.counts.byErrorCode).map(([c, n]) => `${c} ${n}`).join(', ')})` : ''}`,
    );
    if (options.json) process.stdout.write(`${JSON.stringify({ run: manifest.runId, folder: where, counts: manifest.counts })}\n`);
    else process.stdout.write(`${where}\n`);
    // A run that embedded nothing (an empty source, only error rows) is told apart from success.
    return manifest.counts.ok === 0 ? EXIT.nothingEmbedded : EXIT.ok;
  } finally {
    progress.stop();
    await closeModel();
  }
}
