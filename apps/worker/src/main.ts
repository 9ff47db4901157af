import { buildWorkerProgram } from './program';

buildWorkerProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    process.stderr.write(`siglip-batch worker: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = process.exitCode || 1;
  });
