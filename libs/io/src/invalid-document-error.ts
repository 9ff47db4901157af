/** A JSON document of the run folder that exists but does not parse or does not match its schema. */
export class InvalidDocumentError extends Error {
  readonly uri: string;

  constructor(uri: string, problem: string) {
    super(`invalid document ${uri}: ${problem}`);
    this.name = this.constructor.name;
    this.uri = uri;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
