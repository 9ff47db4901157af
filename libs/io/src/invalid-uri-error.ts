/** What {@link parseLocation} accepts, quoted in every refusal. */
export const ACCEPTED_URIS =
  'accepted are s3://bucket/prefix, file:///absolute/path (file://localhost/absolute/path) and plain filesystem paths';

/** A source or output URI that is not one of the accepted forms (architecture §3: refused at start). */
export class InvalidUriError extends Error {
  readonly uri: string;

  constructor(uri: string, reason: string) {
    super(`unsupported URI ${JSON.stringify(uri)}: ${reason}; ${ACCEPTED_URIS}`);
    this.name = this.constructor.name;
    this.uri = uri;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
