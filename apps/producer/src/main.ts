import { redactSecrets } from '@siglip-batch/io/secret-redaction';
import { buildProgram } from './program';
import { logs } from './shared/cli-log';
import { describeFailure, failureJson, jsonRequested } from './shared/exit-codes';

// A reader that stops early (`siglip-batch … --help | head`, `status --json | head -c 100`) closes
// the pipe: what is left to print is dropped, the command itself goes on and exits as it would
// have. Unhandled, the stream's EPIPE error would end the process with a stack trace instead.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});

buildProgram(process.argv)
  .then((program) => program.parseAsync(process.argv))
  .catch((error: unknown) => {
    // Every error ends here, once: its exit code comes from the table in shared/exit-codes.
    const failure = describeFailure(error);
    process.exitCode = failure.exitCode;
    if (failure.exitCode === 0) return;
    if (!failure.printed) process.stderr.write(redactSecrets(`siglip-batch: ${failure.message}\n`));
    if (logs('debug') && error instanceof Error && error.stack && !failure.printed) process.stderr.write(redactSecrets(`${error.stack}\n`));
    // A --json command answers in JSON on stdout, errors included.
    if (jsonRequested(process.argv)) process.stdout.write(`${redactSecrets(failureJson(failure))}\n`);
  });
