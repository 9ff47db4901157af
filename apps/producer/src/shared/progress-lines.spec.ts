import { describe, expect, it } from 'vitest';
import { ProgressLines, formatElapsed, type ProgressClock } from './progress-lines';

/** A clock the test moves by hand; `fire` runs the scheduled tick as an interval would. */
function manualClock() {
  let now = 1_000_000;
  let tick: (() => void) | undefined;
  let everyMs: number | undefined;
  const clock: ProgressClock = {
    now: () => now,
    every: (ms, fn) => {
      everyMs = ms;
      tick = fn;
      return () => {
        tick = undefined;
      };
    },
  };
  return {
    clock,
    advance: (ms: number) => (now += ms),
    fire: () => tick?.(),
    scheduled: () => (tick ? everyMs : undefined),
  };
}

describe('ProgressLines', () => {
  it('writes one plain line per tick with the latest values, without the bar', () => {
    const time = manualClock();
    const lines: string[] = [];
    const progress = new ProgressLines('{bar} {value}/{total} objects{listing}', 10_000, (line) => lines.push(line), time.clock);
    progress.start(0, { listing: ' (listing…)' });
    expect(time.scheduled()).toBe(10_000);
    expect(lines).toEqual([]);
    progress.update(40, { listing: ' (listing…)' }, 100);
    progress.update(60, { listing: ' (listing…)' }, 200);
    time.advance(10_000);
    time.fire();
    progress.update(200, { listing: '' }, 200);
    time.advance(80_000);
    time.fire();
    expect(lines).toEqual(['progress: 60/200 objects (listing…) [10s]', 'progress: 200/200 objects [1m30s]']);
  });

  it('fills payload fields and the percentage, keeps unknown tokens, and stops ticking', () => {
    const time = manualClock();
    const lines: string[] = [];
    const progress = new ProgressLines('{bar} {objects} listed, {enqueued} enqueued, {percentage}% {eta}', 5000, (line) => lines.push(line), time.clock);
    progress.start(4, { objects: 0, enqueued: 0 });
    progress.update(1, { objects: 1200, enqueued: 3 });
    time.fire();
    progress.stop();
    expect(time.scheduled()).toBeUndefined();
    expect(lines).toEqual(['progress: 1200 listed, 3 enqueued, 25% {eta} [0s]']);
  });

  it('formats elapsed time', () => {
    expect(formatElapsed(0)).toBe('0s');
    expect(formatElapsed(59_999)).toBe('59s');
    expect(formatElapsed(65_000)).toBe('1m05s');
    expect(formatElapsed(2 * 3600_000 + 5 * 60_000 + 7000)).toBe('2h05m');
  });
});
