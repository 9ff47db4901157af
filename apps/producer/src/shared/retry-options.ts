import { InvalidArgumentError, type Command } from 'commander';
import type { S3Options } from '@siglip-batch/io';
import type { RetryErrors } from '@siglip-batch/jobs';
import { parseDuration, parseErrorCodes, readRetriedRun, type ProblemList } from '@siglip-batch/pipeline';

/** `--retry-errors <run folder> [--codes a,b]`, on `enqueue` and `embed`. */
export interface RetryCliOptions {
  retryErrors?: string;
  codes?: string[];
}

/** Adds `--retry-errors` and `--codes` to `command`. */
export function addRetryOptions(command: Command): Command {
  return command
    .option(
      '--retry-errors <run>',
      "instead of --source: plan exactly the objects of this finalised run folder's errors files (e.g. s3://bucket/out/run-a/) into a new run; " +
        '--out defaults to the output root that holds it',
    )
    .option('--codes <list>', 'with --retry-errors: only rows with these error codes (comma-separated, e.g. decode_failed,not_found)', codesArgument);
}

/** `--retry-errors-after <duration>` (incremental runs). */
export function retryErrorsAfterArgument(value: string): number {
  try {
    return parseDuration(value, '--retry-errors-after');
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function codesArgument(value: string): string[] {
  try {
    return parseErrorCodes(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/**
 * The retried run, checked: it must be finalised (its manifest lists its errors files). Records
 * problems in `problems`; returns what the run spec freezes, and the output root holding the run.
 */
export async function resolveRetry(
  options: RetryCliOptions & { source?: string },
  problems: ProblemList,
  s3: S3Options,
): Promise<{ source: string; output: string; retryErrors: RetryErrors } | undefined> {
  if (options.retryErrors === undefined) {
    if (options.codes !== undefined) problems.add('--codes applies to --retry-errors only');
    return undefined;
  }
  if (options.source !== undefined) {
    problems.add('give --source or --retry-errors, not both (--retry-errors plans the objects of a run folder\'s errors files)');
    return undefined;
  }
  const retried = await problems.check(`--retry-errors ${options.retryErrors}`, () => readRetriedRun(options.retryErrors!, s3));
  if (!retried) return undefined;
  return {
    source: retried.run,
    output: retried.output,
    retryErrors: { codes: options.codes ?? null, objectSource: retried.objectSource, objectSourceKind: retried.objectSourceKind },
  };
}
