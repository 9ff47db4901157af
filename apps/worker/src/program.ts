import { Command } from 'commander';
import packageJson from '../package.json' with { type: 'json' };

/** The worker process's command line (`siglip-batch worker …`). */
export function buildWorkerProgram(): Command {
  return new Command('siglip-batch worker')
    .description("Consume one model's shard queue: fetch, decode, embed and write Parquet.")
    .version(packageJson.version, '-V, --version', 'print the version')
    .showHelpAfterError();
}
