import { describe, expect, it } from 'vitest';
import { ENDED_RUN_STATES, RUN_STATES, RUN_TRANSITIONS, refuseTransition, statesLeadingTo, type RunState } from './run-state';

const legal = (from: RunState, to: RunState) => refuseTransition('r', from, to) === undefined;

describe('run state transitions', () => {
  it('follow listing → running → finalizing → completed', () => {
    expect(legal('listing', 'running')).toBe(true);
    expect(legal('running', 'finalizing')).toBe(true);
    expect(legal('finalizing', 'completed')).toBe(true);
    // The finaliser goes through finalizing, never straight from running.
    expect(legal('running', 'completed')).toBe(false);
    expect(legal('listing', 'finalizing')).toBe(false);
  });

  it('let a run be cancelled or fail until it has ended', () => {
    for (const from of ['listing', 'running', 'finalizing'] as const) {
      expect(legal(from, 'cancelled'), from).toBe(true);
      expect(legal(from, 'failed'), from).toBe(true);
    }
  });

  it('never leave completed or cancelled; a failed run only runs again', () => {
    for (const to of RUN_STATES) {
      expect(legal('completed', to), `completed → ${to}`).toBe(false);
      expect(legal('cancelled', to), `cancelled → ${to}`).toBe(false);
      expect(legal('failed', to), `failed → ${to}`).toBe(to === 'running');
    }
    expect([...ENDED_RUN_STATES].sort()).toEqual(['cancelled', 'completed', 'failed']);
  });

  it('take a finalising run back to running (stats still missing) and let a retried finalise carry on', () => {
    expect(legal('finalizing', 'running')).toBe(true);
    expect(legal('finalizing', 'finalizing')).toBe(true);
    expect(legal('running', 'running')).toBe(false);
  });

  it('refuse with a message that names the run and its current state', () => {
    expect(refuseTransition('photos-1', 'completed', 'cancelled')).toBe('run photos-1 is completed: a completed run cannot be cancelled (its manifest is written)');
    expect(refuseTransition('photos-1', 'cancelled', 'running')).toBe('run photos-1 is cancelled: a cancelled run cannot be run again (use a new run id)');
    expect(refuseTransition('photos-1', 'failed', 'cancelled')).toBe('run photos-1 is failed: a failed run cannot be cancelled');
  });

  it('lists the states a transition may start from, consistent with the table', () => {
    expect(statesLeadingTo('cancelled').sort()).toEqual(['finalizing', 'listing', 'running']);
    expect(statesLeadingTo('running').sort()).toEqual(['failed', 'finalizing', 'listing']);
    for (const to of RUN_STATES) for (const from of statesLeadingTo(to)) expect(RUN_TRANSITIONS[from]).toContain(to);
  });
});
