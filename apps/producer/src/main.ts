import { errorMessage, redactSecrets } from '@siglip-batch/jobs';
import { buildProgram } from './program';

buildProgram(process.argv)
  .then((program) => program.parseAsync(process.argv))
  .catch((error: unknown) => {
    process.stderr.write(redactSecrets(`siglip-batch: ${errorMessage(error)}\n`));
    process.exitCode = process.exitCode || 1;
  });
