import { CommanderError } from 'commander';
import { errorMessage } from '@siglip-batch/jobs/error-message';
import { ConfigError, RedisUnreachableError } from '@siglip-batch/pipeline/start-up-errors';

/**
 * The exit codes of `siglip-batch`, one table for every subcommand (the README's "Exit codes"
 * and the `--help` footer print it). Scripts and cron jobs tell from the code alone whether to
 * fix the command line (2), look at the run (3, 4, 5) or try again later (1, 6).
 */
export const EXIT = {
  /** Done: the command did what it was asked. */
  ok: 0,
  /** A failure at run time: Redis, S3 or a file went away while running, a run cannot go on, an unknown run. */
  failure: 1,
  /** A usage or configuration error: a flag, a config file key, a model, source or output refused at start. */
  usage: 2,
  /** The run failed (`status` of a failed run). */
  runFailed: 3,
  /** The run finished but embedded no object: an empty source, or every object an error row. */
  nothingEmbedded: 4,
  /** The run was cancelled (`status` of a cancelled run). */
  cancelled: 5,
  /** Redis could not be reached (refused, timed out, unknown host); nothing was done. */
  unavailable: 6,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit code table as the help footer shows it. */
export const EXIT_CODE_HELP = [
  'Exit codes:',
  '  0  success',
  '  1  failure at run time (Redis or S3 lost while running, an unknown run, a run that cannot go on)',
  '  2  usage or configuration error (unknown flag or config key, bad value; model, source or output refused at start)',
  '  3  the run failed (status)',
  '  4  the run finished with no embedded object (embed, status): empty source or only error rows',
  '  5  the run was cancelled (status)',
  '  6  Redis could not be reached (refused, timed out, unknown host): nothing was done, try again later',
].join('\n');

/**
 * An error a command reports as it is, with its exit code and a short machine-readable code
 * (`{"error":{"code":…}}` with `--json`).
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.failure,
    readonly code = 'failed',
  ) {
    super(message);
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

export interface CliFailure {
  exitCode: number;
  /** `usage`, `invalid_configuration`, `not_found`, `failed`, … */
  code: string;
  message: string;
  /** Every problem of a refused configuration. */
  problems?: string[];
  /** True when commander printed the message already (its usage errors, help, version). */
  printed: boolean;
}

/** How an error thrown out of a command ends the process. */
export function describeFailure(error: unknown): CliFailure {
  if (error instanceof CommanderError) {
    // Help and version come through here too, with exit code 0.
    if (error.exitCode === 0) return { exitCode: EXIT.ok, code: error.code, message: '', printed: true };
    return { exitCode: EXIT.usage, code: 'usage', message: error.message.replace(/^error: /, ''), printed: true };
  }
  if (error instanceof RedisUnreachableError) return { exitCode: EXIT.unavailable, code: 'unavailable', message: error.message, printed: false };
  if (error instanceof ConfigError && error.unreachable) {
    return { exitCode: EXIT.unavailable, code: 'unavailable', message: error.message, problems: error.problems, printed: false };
  }
  if (error instanceof ConfigError) return { exitCode: EXIT.usage, code: 'invalid_configuration', message: error.message, problems: error.problems, printed: false };
  if (error instanceof CliError) return { exitCode: error.exitCode, code: error.code, message: error.message, printed: false };
  return { exitCode: EXIT.failure, code: 'failed', message: errorMessage(error), printed: false };
}

/** The JSON a `--json` command prints on stdout instead of its result when it fails. */
export function failureJson(failure: CliFailure): string {
  const { exitCode, code, message, problems } = failure;
  return JSON.stringify({ error: { code, message, exitCode, ...(problems ? { problems } : {}) } });
}

/** Whether the command line asks for JSON output (`--json` before any `--`). */
export function jsonRequested(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/** The exit code of a run in `state` with `embedded` objects: 0 while it is not over. */
export function runStateExitCode(state: string, embedded: number): ExitCode {
  if (state === 'failed') return EXIT.runFailed;
  if (state === 'cancelled') return EXIT.cancelled;
  if (state === 'completed' && embedded === 0) return EXIT.nothingEmbedded;
  return EXIT.ok;
}
