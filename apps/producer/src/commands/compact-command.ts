import type { Command } from 'commander';
import { DEFAULT_COMPACT_GRACE_MS, DEFAULT_COMPACT_TARGET_ROWS, compactRun } from '@siglip-batch/pipeline';
import { openRunFolder } from '@siglip-batch/run-format';
import { addConnectionOptions, s3OptionsOf, type ConnectionOptions } from '../shared/connections';
import { nonNegativeInt, positiveInt } from '../shared/parsers';
import { log } from '../shared/cli-log';

interface CompactCliOptions extends ConnectionOptions {
  run: string;
  targetRows: number;
  graceSeconds: number;
  json?: boolean;
}

/**
 * `siglip-batch compact --run <run folder>`: merges a finished run's small part and errors files
 * into files of about --target-rows rows and switches the manifest to them atomically (see
 * libs/pipeline compact/run-compactor.ts). Safe to rerun, after a crash too; a rerun after the
 * grace period deletes the files the previous one replaced.
 */
export function registerCompactCommand(program: Command): void {
  const command = program
    .command('compact')
    .description("merge a finished run's small part and errors files into large ones and rewrite its manifest atomically (rerun-safe)")
    .requiredOption('--run <uri>', 'run folder, e.g. s3://bucket/out/run-a/')
    .option('--target-rows <n>', 'rows per merged file (files are never split)', positiveInt('--target-rows'), DEFAULT_COMPACT_TARGET_ROWS)
    .option(
      '--grace-seconds <n>',
      'keep replaced files this long for readers that started before (a later compact deletes them); 0 deletes them at once',
      nonNegativeInt('--grace-seconds'),
      DEFAULT_COMPACT_GRACE_MS / 1000,
    )
    .option('--json', 'print the result as JSON');
  addConnectionOptions(command, false).action(async (options: CompactCliOptions) => {
    const folder = openRunFolder(options.run, s3OptionsOf(options));
    try {
      const result = await compactRun({
        folder,
        targetRows: options.targetRows,
        graceMs: options.graceSeconds * 1000,
        onProgress: (event) => {
          if (!options.json) log('info', `merged file ${event.merged}: ${event.key} (${event.rows} rows)`);
        },
      });
      if (options.json) process.stdout.write(`${JSON.stringify({ run: folder.uriOf(''), ...result })}\n`);
      else {
        log(
          'info',
          `${folder.uriOf('')}: ${result.before.parts} part and ${result.before.errors} errors files → ${result.after.parts} and ${result.after.errors}` +
            ` (${result.written} written, ${result.deleted} old files deleted, ${result.rows} rows)` +
            (result.kept > 0 ? `; ${result.kept} replaced files kept for readers until ${result.keptUntil} (compact again after that to delete them)` : ''),
        );
      }
      process.exitCode = 0;
    } finally {
      folder.store.close();
    }
  });
}
