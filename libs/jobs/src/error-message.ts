import { ZodError } from 'zod';

/**
 * The one-line text of an error for people. A zod error's own message is its issues as
 * pretty-printed JSON; here each issue becomes `path: message`, joined with `; `.
 */
export function errorMessage(error: unknown): string {
  if (error instanceof ZodError) return zodIssuesLine(error);
  if (error instanceof Error) return error.message;
  return String(error);
}

/** `templates.0: a template must contain {} …; shardSize: Too small: expected number to be >0`. */
export function zodIssuesLine(error: ZodError): string {
  return error.issues.map((issue) => `${issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ` : ''}${issue.message}`).join('; ');
}
