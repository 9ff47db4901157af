import { redactSecrets } from '@siglip-batch/io/secret-redaction';
import { inferenceThreadPending } from '@siglip-batch/model/inference-prestart';
import { buildProgram } from './program';
import { logs } from './shared/cli-log';
import { describeFailure, failureJson, jsonRequested } from './shared/exit-codes';

// A reader that stops early (`siglip-batch … --help | head`, `status --json | head -c 100`) closes
// the pipe: what is left to print is dropped, the command itself goes on and exits as it would
// have. Unhandled, the stream's EPIPE error would end the process with a stack trace instead.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});

/**
 * Commands whose work is over when they return (the run written, the model's threads closed): the
 * process exits then, once stdout and stderr have flushed, instead of after Node has torn every
 * heap down page by page (~30–40 ms; bench/README.md, issue 18). Only as the top-level command:
 * `demo` runs `embed` in its own process and prints more after it. Not while the inference thread
 * started ahead is still unadopted (`embed --print-config` loads no model): exiting under its
 * native start-up can abort the process.
 */
const EXIT_ON_RETURN = new Set(['embed']);

async function exitIfDone(argv: readonly string[]): Promise<void> {
  if (!EXIT_ON_RETURN.has(argv[2] ?? '') || inferenceThreadPending()) return;
  await Promise.all([process.stdout, process.stderr].map((stream) => new Promise<void>((resolve) => stream.write('', () => resolve()))));
  process.exit();
}

buildProgram(process.argv)
  .then((program) => program.parseAsync(process.argv))
  .then(() => exitIfDone(process.argv))
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
