/**
 * The states of a run and the transitions between them — a pure table, so that every place
 * that changes a run's state (enqueue, the finalise job, `cancel`, the scheduler) agrees, and
 * the Redis side (run-registry.ts) only has to compare and set it atomically.
 *
 * ```
 * listing ──► running ──► finalizing ──► completed
 *    │           │  ▲          │
 *    │           │  └──────────┤ (the store still misses stats: back to running)
 *    └───────────┴─────────────┴──► failed | cancelled
 * ```
 *
 * `completed` and `cancelled` are final. `failed` is final too, except that enqueuing the run
 * again retries its failed shards (`failed → running`). The manifest is a run's commit point: a
 * run is `completed` exactly when its `_manifest.json` exists, so `cancel` wins only until the
 * finaliser starts writing the manifest (see {@link RunRegistry.beginCommit}), and a completed
 * run can never be cancelled.
 */
export const RUN_STATES = ['listing', 'running', 'finalizing', 'completed', 'failed', 'cancelled'] as const;
export type RunState = (typeof RUN_STATES)[number];

/** States a run never leaves by itself (a failed run is revived only by enqueuing it again). */
export const ENDED_RUN_STATES: ReadonlySet<RunState> = new Set(['completed', 'failed', 'cancelled']);

/** Legal transitions: from → the states it may go to. */
export const RUN_TRANSITIONS: Readonly<Record<RunState, readonly RunState[]>> = {
  // A run whose folder already has a manifest is registered and completed at once.
  listing: ['running', 'completed', 'failed', 'cancelled'],
  // `finalizing` again: a finalise job delivered twice (stalled-job recovery) carries on.
  running: ['finalizing', 'failed', 'cancelled'],
  finalizing: ['finalizing', 'running', 'completed', 'failed', 'cancelled'],
  completed: [],
  failed: ['running'],
  cancelled: [],
};

export function isRunState(value: string): value is RunState {
  return (RUN_STATES as readonly string[]).includes(value);
}

/** The states from which `to` may be reached. */
export function statesLeadingTo(to: RunState): RunState[] {
  return RUN_STATES.filter((from) => RUN_TRANSITIONS[from].includes(to));
}

/** Why each final state refuses to change, in words an operator reads. */
const ENDED_BECAUSE: Partial<Record<RunState, string>> = {
  completed: 'its manifest is written',
  cancelled: 'use a new run id',
};

/**
 * Undefined when `from → to` is legal; else the message that refuses it, naming the run and its
 * current state, e.g. `run r1 is completed: a completed run cannot be cancelled (its manifest is
 * written)`.
 */
export function refuseTransition(runId: string, from: RunState, to: RunState): string | undefined {
  if (RUN_TRANSITIONS[from].includes(to)) return undefined;
  const verb = VERBS[to];
  const why = ENDED_BECAUSE[from];
  return `run ${runId} is ${from}: a ${from} run cannot be ${verb}${why ? ` (${why})` : ''}`;
}

const VERBS: Record<RunState, string> = {
  listing: 'listed again',
  running: 'run again',
  finalizing: 'finalised',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
};
