/**
 * A model directory (or the options to load it) that cannot be used. Thrown once, at load,
 * naming every problem found — missing files, wrong tensor names or dims, missing
 * logit_scale / logit_bias, a content-hash mismatch — so that a worker fails at start with
 * one message instead of one fix at a time.
 */
export class ModelLoadError extends Error {
  constructor(
    /** The model directory. */
    readonly dir: string,
    /** One line per problem. */
    readonly problems: readonly string[],
  ) {
    super(`cannot use the model in ${dir}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
