import type { Command } from 'commander';
import { Option } from 'commander';
import {
  LANCE_INDEX_TYPES,
  buildLanceIndex,
  buildLatestLanceIndex,
  defaultLanceUri,
  openLanceTarget,
  readFinishedManifest,
  type BuildLanceIndexResult,
  type LanceIndexType,
  type LanceTarget,
} from '@siglip-batch/retrieval';
import { openRunFolder } from '@siglip-batch/run-format';
import { openLocation } from '@siglip-batch/io';
import { openLatestView } from '@siglip-batch/pipeline';
import { addConnectionOptions, s3OptionsOf, type ConnectionOptions } from '../shared/connections';
import { log } from '../shared/cli-log';
import { CliError, EXIT } from '../shared/exit-codes';

interface IndexCliOptions extends ConnectionOptions {
  run?: string;
  latest?: string;
  modelHash?: string;
  to?: string;
  incremental?: boolean;
  overwrite?: boolean;
  indexType: LanceIndexType | 'auto';
  json?: boolean;
}

/**
 * `siglip-batch index --run <run folder> [--to <uri>]`: the run's rows (read through its
 * manifest, streamed) into a LanceDB table with a vector index, by default in the run's own
 * `_lancedb/` folder, where `search` finds it. `--incremental` adds a later run (same model) to
 * an existing table: rows of objects already in it replace theirs, the run's deletions are
 * applied. `--latest <out>` indexes an output's `latest` view instead (one newest row per object
 * across its runs, see lance-latest.ts); with `--incremental` it is merged into the table by uri
 * and the objects no longer in the view are deleted.
 */
export function registerIndexCommand(program: Command): void {
  const command = program
    .command('index')
    .description("build a run's LanceDB table (row_id, uri, embedding, tags, scores, extra columns) and its vector index; --incremental adds a later run to one; --latest indexes (or merges) an output's latest view instead")
    .option('--run <uri>', 'finished run folder, e.g. s3://bucket/out/run-a/')
    .option('--latest <uri>', "instead of --run: an output root (or its _latest/ folder) whose `siglip-batch latest` view is indexed; needs --to")
    .option('--model-hash <hash>', 'with --latest: the model whose rows are indexed, when the view holds several (a prefix of its hash; <hash>+fast-<gap> for fast-decoded rows)')
    .option('--to <uri>', "where the table goes (a directory or s3://… prefix; default: the run's <run folder>/_lancedb/, which search uses)")
    .option('--incremental', 'add the run to the table at --to (same model): rows of uris already there are replaced, the run\'s deletions applied')
    .option('--overwrite', 'replace a table at --to that holds other runs')
    .addOption(
      new Option('--index-type <type>', 'vector index: auto (none below 10,000 rows, else IVF_PQ), none (exact search), ivf_pq, ivf_hnsw_sq')
        .choices(['auto', ...LANCE_INDEX_TYPES])
        .default('auto'),
    )
    .option('--json', 'print the table\'s _index.json (and the rows added and deleted) as JSON');
  addConnectionOptions(command, false).action(async (options: IndexCliOptions) => {
    if ((options.run === undefined) === (options.latest === undefined)) throw new CliError('give the rows to index with either --run <run folder> or --latest <output root>', EXIT.usage, 'usage');
    if (options.incremental && options.to === undefined) {
      throw new CliError(`--incremental adds ${options.run ? 'a run' : 'the latest view'} to an existing table: give it with --to <uri>`, EXIT.usage, 'usage');
    }
    if (options.latest !== undefined && options.to === undefined) throw new CliError('--latest needs --to <uri>: where the table goes', EXIT.usage, 'usage');
    if (options.modelHash !== undefined && options.latest === undefined) throw new CliError('--model-hash goes with --latest (a run has one model)', EXIT.usage, 'usage');
    const s3 = s3OptionsOf(options);
    let told = 0;
    const started = performance.now();
    const common = {
      indexType: options.indexType,
      ...(options.incremental ? { incremental: true } : {}),
      ...(options.overwrite ? { overwrite: true } : {}),
      onProgress: (rows: number) => {
        if (options.json || performance.now() - told < 10_000) return;
        told = performance.now();
        log('info', `${rows} rows written…`);
      },
    };
    const report = (target: LanceTarget, result: BuildLanceIndexResult, source: string) => {
      if (options.json) process.stdout.write(`${JSON.stringify({ to: target.display, added: result.added, deleted: result.deleted, ...result.info })}\n`);
      else {
        process.stdout.write(`${target.display}\n`);
        const ms = Math.round(performance.now() - started);
        log('info', `${result.info.rows} rows (${result.added} from ${source}${result.deleted ? `, ${result.deleted} deleted` : ''}), vector index ${result.info.index.type}, in ${ms} ms`);
      }
      process.exitCode = EXIT.ok;
    };
    if (options.latest !== undefined) {
      const output = openLocation(options.latest.replace(/_latest\/?$/, ''), s3);
      try {
        const target = await openLanceTarget(options.to!, s3);
        try {
          const result = await buildLatestLanceIndex({ view: await openLatestView(output), target, ...common, ...(options.modelHash ? { modelHash: options.modelHash } : {}) });
          report(target, result, 'the latest view');
        } finally {
          target.close();
        }
      } finally {
        output.store.close();
      }
      return;
    }
    const folder = openRunFolder(options.run!, s3);
    try {
      const manifest = await readFinishedManifest(folder);
      const target = await openLanceTarget(options.to ?? defaultLanceUri(folder), s3);
      try {
        const result = await buildLanceIndex({ folder, manifest, target, ...common });
        report(target, result, `run ${manifest.runId}`);
      } finally {
        target.close();
      }
    } finally {
      folder.store.close();
    }
  });
}
