import { redactSecrets } from '@siglip-batch/io/secret-redaction';

/** `--log-level`: what the producer commands print on stderr besides their result. */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The environment variable that sets the level, and passes it on to a worker process. */
export const LOG_LEVEL_ENV = 'SIGLIP_BATCH_LOG_LEVEL';

let threshold: LogLevel = 'info';

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

export function logLevel(): LogLevel {
  return threshold;
}

/** Whether a message of `level` is printed at the current level. */
export function logs(level: LogLevel): boolean {
  return LOG_LEVELS.indexOf(level) <= LOG_LEVELS.indexOf(threshold);
}

/**
 * Prints a notice on stderr when the level lets it through: summaries and notices are `info`,
 * problems that do not stop the command `warn` (prefixed "warning: "), details `debug`.
 * Secrets in URLs are redacted.
 */
export function log(level: LogLevel, message: string): void {
  if (!logs(level)) return;
  const prefix = level === 'warn' ? 'warning: ' : level === 'debug' ? 'debug: ' : '';
  process.stderr.write(`${redactSecrets(`${prefix}${message}`)}\n`);
}
