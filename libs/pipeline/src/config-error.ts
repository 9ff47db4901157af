import { errorMessage } from '@siglip-batch/jobs/error-message';
import { RedisUnreachableError } from './redis-unreachable-error';

/**
 * Bad configuration, found at start: one error naming every problem, so a user fixes them
 * all in one go instead of one per run.
 */
export class ConfigError extends Error {
  /**
   * @param unreachable True when every problem is a service that could not be reached (Redis
   *   down or restarting): nothing to fix in the configuration, trying again later may work.
   */
  constructor(
    readonly problems: string[],
    readonly unreachable = false,
  ) {
    super(
      problems.length === 1
        ? `invalid configuration: ${problems[0]}`
        : `invalid configuration (${problems.length} problems):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/**
 * Collects problems from checks that may throw, then throws one {@link ConfigError}. One fault
 * found by two checks (a malformed `--source` refused by the source check and again by the run
 * spec built from it) is reported once, under the first check's name.
 */
export class ProblemList {
  readonly problems: string[] = [];
  private readonly reasons = new Set<string>();
  private unreachable = 0;

  add(problem: string): void {
    this.problems.push(problem);
  }

  /** Runs a check; its error message (or its returned problems) are recorded. */
  async check<T>(what: string, run: () => Promise<T> | T): Promise<T | undefined> {
    try {
      return await run();
    } catch (error) {
      const message = error instanceof ConfigError ? error.problems.join('; ') : errorMessage(error);
      if (!this.reasons.has(message)) {
        this.add(`${what}: ${message}`);
        if (error instanceof RedisUnreachableError || (error instanceof ConfigError && error.unreachable)) this.unreachable++;
      }
      this.reasons.add(message);
      return undefined;
    }
  }

  /** The one error of every problem so far; undefined when there is none. */
  toError(): ConfigError | undefined {
    return this.problems.length > 0 ? new ConfigError(this.problems, this.unreachable === this.problems.length) : undefined;
  }

  throwIfAny(): void {
    const error = this.toError();
    if (error) throw error;
  }
}
