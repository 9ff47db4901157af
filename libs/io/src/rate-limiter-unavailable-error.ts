/**
 * The S3 rate limiter could not reach Redis for longer than it may wait. The request it was
 * taking a token for fails with this error: a transient fault (the S3 store reports it as
 * such), never a row, and the shard is retried later like after any other transient fault.
 */
export class RateLimiterUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
