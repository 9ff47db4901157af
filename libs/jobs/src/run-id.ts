/** A run id: lower-case letters, digits, `_` and `-`, starting with a letter or digit, ≤ 64 chars. */
export const RUN_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export class InvalidRunIdError extends Error {
  constructor(runId: string) {
    super(
      `invalid run id ${JSON.stringify(runId)}: use 1–64 characters of a-z, 0-9, "_" and "-", starting with a letter or digit`,
    );
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

export function isRunId(value: string): boolean {
  return RUN_ID_PATTERN.test(value);
}

export function assertRunId(value: string): string {
  if (!isRunId(value)) throw new InvalidRunIdError(value);
  return value;
}
