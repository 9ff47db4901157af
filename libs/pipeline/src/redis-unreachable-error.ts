/**
 * Redis could not be reached (refused, timed out, unknown host): unlike a refused password or an
 * evicting policy, trying again later may work. In a file of its own, without ioredis, so that
 * what only tells errors apart (the command line's exit codes) does not load the Redis client.
 */
export class RedisUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
