import type { Command } from 'commander';
import { openLocation } from '@siglip-batch/io';
import { writeLatest } from '@siglip-batch/pipeline';
import { addConnectionOptions, s3OptionsOf, type ConnectionOptions } from '../shared/connections';
import { positiveInt } from '../shared/parsers';
import { log } from '../shared/cli-log';

interface LatestCliOptions extends ConnectionOptions {
  out: string;
  chunkRows?: number;
  json?: boolean;
}

export function registerLatestCommand(program: Command): void {
  const command = program
    .command('latest')
    .description("write the newest embedded row of every object across an output's runs (<out>/_latest/, one set of files per model) and print where")
    .requiredOption('--out <uri>', 'output root holding the runs and their processed index (<out>/_index/)')
    .option('--chunk-rows <n>', 'rows per Parquet file', positiveInt('--chunk-rows'))
    .option('--json', 'print the _latest.json pointer as JSON');
  addConnectionOptions(command, false).action(async (options: LatestCliOptions) => {
    const output = openLocation(options.out, s3OptionsOf(options));
    try {
      const pointer = await writeLatest(output, options.chunkRows ? { chunkRows: options.chunkRows } : {});
      if (options.json) process.stdout.write(`${JSON.stringify({ out: output.location.uri, ...pointer, files: pointer.files.map((f) => ({ ...f, uri: output.store.uriOf(output.prefix + f.key) })) })}\n`);
      else {
        for (const file of pointer.files) process.stdout.write(`${output.store.uriOf(output.prefix + file.key)}\n`);
        log('info', `${pointer.rows} objects in ${pointer.files.length} files`);
      }
      process.exitCode = 0;
    } finally {
      output.store.close();
    }
  });
}
