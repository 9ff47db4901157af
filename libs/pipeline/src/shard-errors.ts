/**
 * A shard failed for reasons that may pass (S3 throttling, timeouts, 5xx after the SDK's own
 * retries): nothing is committed, and the queue retries the shard later with backoff.
 * Transient faults are never written as error rows.
 */
export class TransientShardError extends Error {
  constructor(
    message: string,
    readonly transientObjects: number,
  ) {
    super(message);
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/**
 * A shard cannot succeed on any retry (a broken model, a missing or invalid plan): the job
 * fails at once and the run ends `failed`. (Objects a worker may not read are rows, not this.)
 */
export class PermanentShardError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
