import type { Command } from 'commander';
import { Option } from 'commander';
import {
  LANCE_INDEX_TYPES,
  buildLanceIndex,
  defaultLanceUri,
  openLanceTarget,
  openRunFolderUri,
  readFinishedManifest,
  type LanceIndexType,
} from '@siglip-batch/pipeline';
import { addConnectionOptions, s3OptionsOf, type ConnectionOptions } from '../shared/connections';
import { log } from '../shared/cli-log';
import { CliError, EXIT } from '../shared/exit-codes';

interface IndexCliOptions extends ConnectionOptions {
  run: string;
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
 * applied.
 */
export function registerIndexCommand(program: Command): void {
  const command = program
    .command('index')
    .description("build a run's LanceDB table (row_id, uri, embedding, tags, scores, extra columns) and its vector index; --incremental adds a later run to one")
    .requiredOption('--run <uri>', 'finished run folder, e.g. s3://bucket/out/run-a/')
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
    const s3 = s3OptionsOf(options);
    const folder = openRunFolderUri(options.run, s3);
    try {
      if (options.incremental && options.to === undefined) {
        throw new CliError('--incremental adds a run to an existing table: give it with --to <uri>', EXIT.usage, 'usage');
      }
      const manifest = await readFinishedManifest(folder);
      const target = await openLanceTarget(options.to ?? defaultLanceUri(folder), s3);
      try {
        let told = 0;
        const started = performance.now();
        const result = await buildLanceIndex({
          folder,
          manifest,
          target,
          indexType: options.indexType,
          ...(options.incremental ? { incremental: true } : {}),
          ...(options.overwrite ? { overwrite: true } : {}),
          onProgress: (rows) => {
            if (options.json || performance.now() - told < 10_000) return;
            told = performance.now();
            log('info', `${rows} rows written…`);
          },
        });
        if (options.json) process.stdout.write(`${JSON.stringify({ to: target.display, added: result.added, deleted: result.deleted, ...result.info })}\n`);
        else {
          process.stdout.write(`${target.display}\n`);
          const ms = Math.round(performance.now() - started);
          log('info', `${result.info.rows} rows (${result.added} from run ${manifest.runId}${result.deleted ? `, ${result.deleted} deleted` : ''}), vector index ${result.info.index.type}, in ${ms} ms`);
        }
        process.exitCode = EXIT.ok;
      } finally {
        target.close();
      }
    } finally {
      folder.store.close();
    }
  });
}
