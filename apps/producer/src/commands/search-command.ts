import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { Option } from 'commander';
import { SiglipModel } from '@siglip-batch/model';
import { ProblemList } from '@siglip-batch/pipeline';
import {
  LanceSearcher,
  assertRunModel,
  defaultLanceUri,
  embedImageQuery,
  embedTextQuery,
  openLanceTarget,
  prepareRunSearch,
  readFinishedManifest,
  searchRun,
  type SearchEngine,
} from '@siglip-batch/retrieval';
import { type S3Options } from '@siglip-batch/io';
import { openRunFolder, runFileCounts, type RunFolder } from '@siglip-batch/run-format';
import type { RunManifest } from '@siglip-batch/jobs';
import { addConnectionOptions, s3OptionsOf, type ConnectionOptions } from '../shared/connections';
import { collect, positiveInt } from '../shared/parsers';
import { resolveModelDir } from '../shared/model-dir';
import { log } from '../shared/cli-log';

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
  scanThreads?: number;
  verifyModel?: boolean;
  json?: boolean;
  exact?: boolean;
  index?: string;
  nprobes?: number;
  refineFactor?: number;
  /** True when --engine was given: a scan was asked for, not the index. */
  engineGiven?: boolean;
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
    .option('--scan-threads <n>', 'threads scanning the search cache (engine cache; default: one per core)', positiveInt('--scan-threads'))
    .option('--verify-model', "re-hash the model's weight files instead of trusting its sidecar's content hash")
    .option('--exact', "scan every row exactly (--engine) even when the run has a vector index (siglip-batch index)")
    .option('--index <uri>', "the LanceDB table to search (siglip-batch index --to); default: the run's own <run folder>/_lancedb/ when it has a vector index")
    .option('--nprobes <n>', 'vector index: partitions probed (default: the one the index records)', positiveInt('--nprobes'))
    .option('--refine-factor <n>', 'vector index: candidates re-ranked exactly, × k (default: the one the index records)', positiveInt('--refine-factor'))
    .option('--json', 'print the results as JSON');
  addConnectionOptions(command, false).action(async (options: SearchCliOptions, cmd: Command) => {
    process.exitCode = await searchCommand({ ...options, engineGiven: cmd.getOptionValueSource('engine') === 'cli' });
  });
}

/**
 * The cache engine is made ready (cache entry found or built, scan threads started) while the
 * model loads and embeds the query; `--json` carries where the time went (`timings`; `startupMs`
 * is the time from the process's start to this function: node, tsx, and module loading).
 */
async function searchCommand(options: SearchCliOptions): Promise<number> {
  const timings: Record<string, number> = { startupMs: performance.now() };
  const lap = (name: string, since: number) => (timings[name] = performance.now() - since);
  const s3 = s3OptionsOf(options);
  const problems = new ProblemList();
  if ((options.text === undefined) === (options.image === undefined)) problems.add('give exactly one of --text or --image');
  let t = performance.now();
  const folder = await problems.check(`--run ${options.run}`, () => openRunFolder(options.run, s3));
  const manifest = folder ? await problems.check(`--run ${options.run}`, () => readFinishedManifest(folder)) : undefined;
  lap('manifestMs', t);
  // The run's vector index (siglip-batch index), unless a scan is asked for; one of a run small
  // enough to have no ANN index is used only when named with --index.
  t = performance.now();
  const lance = folder && manifest && !options.exact && !options.engineGiven ? await problems.check('--index', () => openRunIndex(options, folder, manifest, s3)) : undefined;
  if (lance) timings['indexOpenMs'] = performance.now() - t;
  // Started now, awaited after the query is embedded; a failure is reported then. The first
  // search of a manifest builds the cache (minutes for millions of rows): say so once.
  let told = false;
  const onCacheProgress = () => {
    if (!told) log('info', `building the search cache of ${options.run} (once per run manifest)…`);
    told = true;
  };
  const prepared =
    folder && manifest && !lance && options.engine === 'cache' && problems.problems.length === 0
      ? prepareRunSearch({ folder, manifest, onCacheProgress, ...(options.scanThreads ? { threads: options.scanThreads } : {}) })
      : undefined;
  prepared?.catch(() => undefined);
  t = performance.now();
  const image = options.image !== undefined ? await problems.check(`--image ${options.image}`, () => readFile(options.image!)) : undefined;
  const modelDir = await problems.check(`--model ${options.model}`, () => resolveModelDir(options.model, s3, manifest?.model.variant));
  const model = modelDir
    ? await problems.check(`model ${options.model}`, () =>
        SiglipModel.load(modelDir, {
          device: options.device,
          // The sidecar's content hash is compared with the run's below; re-hashing every weight
          // file (GBs for so400m) on each query is what --verify-model asks for.
          verifyContentHash: options.verifyModel === true,
          // Only the tower the query needs: half the load time and memory.
          towers: [options.image !== undefined ? 'vision' : 'text'],
          ...(manifest ? { variant: manifest.model.variant } : {}),
          ...(options.threads ? { intraOpThreads: options.threads } : {}),
        }),
      )
    : undefined;
  if (model && manifest) await problems.check('model', () => assertRunModel(model, manifest));
  lap('modelMs', t);
  if (problems.problems.length > 0) {
    await model?.close();
    await prepared?.then((p) => p.searcher.close()).catch(() => undefined);
    lance?.close();
    folder?.store.close();
  }
  problems.throwIfAny();
  try {
    const templates = options.template.length > 0 ? options.template : manifest!.templates;
    t = performance.now();
    const query = image ? await embedImageQuery(model!, image) : await embedTextQuery(model!, options.text!, templates);
    lap('embedMs', t);
    t = performance.now();
    let result: { hits: Array<{ uri: string; score: number }>; rows: number; parts: number; cacheBuilt?: boolean; index?: { uri: string; type: string } };
    if (lance) {
      const params = { ...(options.nprobes ? { nprobes: options.nprobes } : {}), ...(options.refineFactor ? { refineFactor: options.refineFactor } : {}) };
      const hits = (await lance.searcher.search(query, options.k, params)).map((hit) => ({ uri: hit.uri, score: hit.score, rowId: hit.rowId.toString() }));
      timings['indexSearchMs'] = performance.now() - t;
      const parts = runFileCounts(manifest!).parts;
      result = { hits, rows: lance.searcher.info.rows, parts, index: { uri: lance.uri, type: lance.searcher.info.index.type } };
    } else if (prepared) {
      const ready = await prepared;
      timings['cacheMs'] = ready.cacheMs;
      timings['waitCacheMs'] = performance.now() - t;
      const searched = await ready.searcher.search(query, options.k);
      Object.assign(timings, { scanMs: searched.timings.scanMs, rerankMs: searched.timings.rerankMs, candidates: searched.timings.candidates });
      result = { hits: searched.hits, rows: ready.rows, parts: ready.parts, cacheBuilt: ready.cacheBuilt };
    } else {
      result = await searchRun({ folder: folder!, manifest: manifest!, query, k: options.k, engine: options.engine });
    }
    const ms = Math.round(performance.now() - t);
    timings['totalMs'] = performance.now();
    if (options.json) {
      const what = image ? { image: options.image } : { text: options.text, templates };
      const rounded = Object.fromEntries(Object.entries(timings).map(([key, value]) => [key, Math.round(value)]));
      const cache = result.cacheBuilt === undefined ? {} : { cacheBuilt: result.cacheBuilt };
      const index = result.index ? { index: result.index } : {};
      process.stdout.write(`${JSON.stringify({ run: folder!.uriOf(''), query: what, k: options.k, rows: result.rows, ms, ...cache, ...index, timings: rounded, hits: result.hits })}\n`);
    } else {
      for (const hit of result.hits) process.stdout.write(`${hit.score.toFixed(6)}\t${hit.uri}\n`);
      const built = result.cacheBuilt ? ' (search cache built first, once for this manifest)' : '';
      const through = result.index ? ` through the ${result.index.type} index at ${result.index.uri} (--exact: a full scan)` : '';
      log('info', `${result.rows} rows in ${result.parts} parts searched in ${ms} ms${built}${through}`);
    }
    return 0;
  } finally {
    await prepared?.then((ready) => ready.searcher.close()).catch(() => undefined);
    lance?.close();
    await model!.close();
    folder!.store.close();
  }
}

interface OpenedRunIndex {
  searcher: LanceSearcher;
  uri: string;
  close(): void;
}

/**
 * The run's LanceDB table, when search should go through it: the one --index names (which must
 * hold the run's model), else the run's own `_lancedb/` when it exists, was built from this
 * manifest and has an ANN index. Undefined means the scan.
 */
async function openRunIndex(options: SearchCliOptions, folder: RunFolder, manifest: RunManifest, s3: S3Options): Promise<OpenedRunIndex | undefined> {
  const named = options.index !== undefined;
  const target = await openLanceTarget(options.index ?? defaultLanceUri(folder), s3);
  let searcher: LanceSearcher | undefined;
  let handedOut = false;
  try {
    searcher = await LanceSearcher.open(target);
    if (!searcher) {
      if (named) throw new Error(`${target.display} holds no table built by siglip-batch index (no _index.json)`);
      return undefined;
    }
    const info = searcher.info;
    if (info.modelHash !== manifest.model.hash || info.embeddingDim !== manifest.embeddingDim) {
      if (named) throw new Error(`${target.display} holds embeddings of another model than run ${manifest.runId}'s`);
      log('info', `${target.display} holds another model's embeddings: not used`);
      return undefined;
    }
    const holdsRun = [info.firstRun, info.lastRun].some((run) => run.runId === manifest.runId && run.finalizedAt === manifest.timings.finalizedAt);
    if (!named && !holdsRun) log('info', `${target.display} was built from another manifest of the run: not used (siglip-batch index --run … builds it again)`);
    if (!named && (!holdsRun || info.index.type === 'none')) return undefined;
    const opened = searcher;
    handedOut = true;
    return { searcher: opened, uri: target.display, close: () => (opened.close(), target.close()) };
  } finally {
    if (!handedOut) {
      searcher?.close();
      target.close();
    }
  }
}
