import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { Option } from 'commander';
import { SiglipModel } from '@siglip-batch/model';
import {
  ProblemList,
  assertRunModel,
  embedImageQuery,
  embedTextQuery,
  openRunFolderUri,
  readFinishedManifest,
  searchRun,
  type SearchEngine,
} from '@siglip-batch/pipeline';
import { addConnectionOptions, s3OptionsOf, type ConnectionOptions } from '../shared/connections';
import { collect, positiveInt } from '../shared/parsers';
import { resolveModelDir } from '../shared/model-dir';

interface SearchCliOptions extends ConnectionOptions {
  run: string;
  model: string;
  text?: string;
  image?: string;
  k: number;
  template: string[];
  engine: SearchEngine;
  device: string;
  threads?: number;
  json?: boolean;
}

export function registerSearchCommand(program: Command): void {
  const command = program
    .command('search')
    .description("top-k objects of a finished run for a text or image query (cosine similarity over the manifest's part files)")
    .requiredOption('--run <uri>', 'run folder, e.g. s3://bucket/out/run-a/')
    .requiredOption('--model <dir>', "the run's model directory (or s3://… model folder, cached locally)")
    .option('--text <query>', 'text query (through the text tower with the run\'s prompt templates)')
    .option('--image <file>', 'image query (local file, through the same preprocessing as the run)')
    .option('-k, --k <n>', 'how many results', positiveInt('-k'), 10)
    .option('--template <text>', "prompt template with {} for --text (repeatable; default: the run's)", collect, [] as string[])
    .addOption(new Option('--engine <engine>', 'cache (flat local copy of the run, built once; fastest), duckdb, or scan (parquet-wasm)').choices(['cache', 'duckdb', 'scan']).default('cache'))
    .option('--device <device>', 'cpu, cuda or cuda:N', 'cpu')
    .option('--threads <n>', 'ONNX Runtime intra-op threads', positiveInt('--threads'))
    .option('--json', 'print the results as JSON');
  addConnectionOptions(command, false).action(async (options: SearchCliOptions) => {
    process.exitCode = await searchCommand(options);
  });
}

async function searchCommand(options: SearchCliOptions): Promise<number> {
  const s3 = s3OptionsOf(options);
  const problems = new ProblemList();
  if ((options.text === undefined) === (options.image === undefined)) problems.add('give exactly one of --text or --image');
  const folder = await problems.check(`--run ${options.run}`, () => openRunFolderUri(options.run, s3));
  const manifest = folder ? await problems.check(`--run ${options.run}`, () => readFinishedManifest(folder)) : undefined;
  const image = options.image !== undefined ? await problems.check(`--image ${options.image}`, () => readFile(options.image!)) : undefined;
  const modelDir = await problems.check(`--model ${options.model}`, () => resolveModelDir(options.model, s3));
  const model = modelDir
    ? await problems.check(`model ${options.model}`, () =>
        SiglipModel.load(modelDir, {
          device: options.device,
          ...(manifest ? { variant: manifest.model.variant } : {}),
          ...(options.threads ? { intraOpThreads: options.threads } : {}),
        }),
      )
    : undefined;
  if (model && manifest) await problems.check('model', () => assertRunModel(model, manifest));
  if (problems.problems.length > 0) {
    await model?.close();
    folder?.store.close();
  }
  problems.throwIfAny();
  try {
    const templates = options.template.length > 0 ? options.template : manifest!.templates;
    const query = image ? await embedImageQuery(model!, image) : await embedTextQuery(model!, options.text!, templates);
    const started = performance.now();
    const result = await searchRun({ folder: folder!, manifest: manifest!, query, k: options.k, engine: options.engine });
    const ms = Math.round(performance.now() - started);
    if (options.json) {
      const what = image ? { image: options.image } : { text: options.text, templates };
      process.stdout.write(`${JSON.stringify({ run: folder!.uriOf(''), query: what, k: options.k, rows: result.rows, ms, hits: result.hits })}\n`);
    } else {
      for (const hit of result.hits) process.stdout.write(`${hit.score.toFixed(6)}\t${hit.uri}\n`);
      process.stderr.write(`${result.rows} rows in ${result.parts} parts searched in ${ms} ms\n`);
    }
    return 0;
  } finally {
    await model!.close();
    folder!.store.close();
  }
}
