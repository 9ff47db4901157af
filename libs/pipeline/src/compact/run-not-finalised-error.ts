/** `compact` (and other tools that rewrite a run) refuse a run that has no manifest yet. */
export class RunNotFinalisedError extends Error {
  constructor(readonly folderUri: string) {
    super(`${folderUri} has no _manifest.json: the run is not finalised (or this is not a run folder); only a finished run can be compacted`);
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
