import { errorMessage } from '@siglip-batch/jobs';
import { redactSecrets } from '@siglip-batch/io/secret-redaction';
import { buildWorkerProgram } from './program';
import { workerFaultsFromEnvironment } from './test-faults';

buildWorkerProgram(workerFaultsFromEnvironment(process.env))
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    process.stderr.write(redactSecrets(`siglip-batch worker: ${errorMessage(error)}\n`));
    process.exitCode = process.exitCode || 1;
  })
  // A worker's work is over once its command returns (after a graceful shutdown or a refused
  // start): exit even if a library still holds a socket or timer open.
  .finally(() => process.exit(process.exitCode ?? 0));
