/**
 * S3 cannot be used as configured (no region, no credentials anywhere the SDK looks): not a
 * fault of any object, and not one that waiting fixes. The message says what to set.
 */
export class S3ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
