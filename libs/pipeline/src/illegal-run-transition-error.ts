import type { RunState } from './run-state';

/**
 * A run state change refused because the run is not (or no longer) in a state that allows it,
 * e.g. `cancel` on a completed run. The message names the run and its current state.
 */
export class IllegalRunTransitionError extends Error {
  constructor(
    message: string,
    readonly runId: string,
    /** The state the run is in (what refused the change); undefined when Redis has no record. */
    readonly current: RunState | undefined,
    readonly wanted: RunState,
  ) {
    super(message);
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
