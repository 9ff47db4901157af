import type { ZodError } from 'zod';

/**
 * The one-line text of an error for people. A zod error's own message is its issues as
 * pretty-printed JSON; here each issue becomes `path: message`, joined with `; `.
 */
export function errorMessage(error: unknown): string {
  if (isZodError(error)) return zodIssuesLine(error);
  if (error instanceof Error) return error.message;
  return String(error);
}

/** `templates.0: a template must contain {} …; shardSize: Too small: expected number to be >0`. */
export function zodIssuesLine(error: ZodError): string {
  return error.issues.map((issue) => `${issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ` : ''}${issue.message}`).join('; ');
}

/** A zod error, told apart without loading zod: this module is on every command's start-up path. */
function isZodError(error: unknown): error is ZodError {
  return error instanceof Error && error.name === 'ZodError' && Array.isArray((error as { issues?: unknown }).issues);
}
