import { errorMessage } from '@siglip-batch/jobs';

/**
 * Bad configuration, found at start: one error naming every problem, so a user fixes them
 * all in one go instead of one per run.
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      problems.length === 1
        ? `invalid configuration: ${problems[0]}`
        : `invalid configuration (${problems.length} problems):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** Collects problems from checks that may throw, then throws one {@link ConfigError}. */
export class ProblemList {
  readonly problems: string[] = [];

  add(problem: string): void {
    this.problems.push(problem);
  }

  /** Runs a check; its error message (or its returned problems) are recorded. */
  async check<T>(what: string, run: () => Promise<T> | T): Promise<T | undefined> {
    try {
      return await run();
    } catch (error) {
      const message = error instanceof ConfigError ? error.problems.join('; ') : errorMessage(error);
      this.add(`${what}: ${message}`);
      return undefined;
    }
  }

  throwIfAny(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }
}
