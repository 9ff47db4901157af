import { describe, expect, it } from 'vitest';
import { isRunId } from '@siglip-batch/jobs';
import { firingTime, inspectRepeat, scheduleNameSchema, scheduledRunId, scheduledRunSchema } from './scheduled-run';

describe('scheduled run ids', () => {
  it('derive from the schedule name and the UTC firing date (and time for sub-daily schedules)', () => {
    const at = new Date('2026-11-28T02:00:03.250Z');
    expect(scheduledRunId('nightly', at, false)).toBe('nightly-20261128');
    expect(scheduledRunId('nightly', at, true)).toBe('nightly-20261128-020003');
    expect(isRunId(scheduledRunId('a'.repeat(41), at, true))).toBe(true);
  });

  it('refuses schedule names that would make invalid run ids', () => {
    expect(scheduleNameSchema.safeParse('Nightly').success).toBe(false);
    expect(scheduleNameSchema.safeParse('a'.repeat(42)).success).toBe(false);
  });

  it('take the firing time from the iteration id BullMQ gives each firing, not from when it ran', () => {
    const due = Date.parse('2026-11-28T02:00:00.000Z');
    expect(firingTime({ id: `repeat:nightly:${due}`, timestamp: due + 3_600_000, opts: {} }).toISOString()).toBe('2026-11-28T02:00:00.000Z');
    expect(firingTime({ id: 'other', timestamp: due - 500, opts: { delay: 500 } }).getTime()).toBe(due);
  });
});

describe('inspectRepeat', () => {
  const from = Date.parse('2026-11-28T12:00:00.000Z');

  it('gives the next firing of a cron pattern in its time zone', () => {
    expect(inspectRepeat({ pattern: '0 2 * * *', tz: 'UTC' }, from)).toEqual({ next: new Date('2026-11-29T02:00:00.000Z'), subDaily: false });
    expect(inspectRepeat({ pattern: '0 2 * * *', tz: 'Europe/Paris' }, from).next.toISOString()).toBe('2026-11-29T01:00:00.000Z');
  });

  it('tells schedules that can fire twice on one UTC day (their runs need the time in their id)', () => {
    expect(inspectRepeat({ pattern: '0 2,14 * * *', tz: 'UTC' }, from).subDaily).toBe(true);
    expect(inspectRepeat({ pattern: '*/5 * * * *', tz: 'UTC' }, from).subDaily).toBe(true);
    expect(inspectRepeat({ pattern: '30 1 * * 1-5', tz: 'UTC' }, from).subDaily).toBe(false);
    expect(inspectRepeat({ every: 60_000 }, from).subDaily).toBe(true);
    expect(inspectRepeat({ every: 24 * 3600 * 1000 }, from).subDaily).toBe(false);
  });

  it('refuses bad patterns and time zones with a message that names them', () => {
    expect(() => inspectRepeat({ pattern: 'every night', tz: 'UTC' }, from)).toThrow(/bad cron pattern "every night"/);
    expect(() => inspectRepeat({ pattern: '61 2 * * *', tz: 'UTC' }, from)).toThrow(/bad cron pattern "61 2 \* \* \*"/);
    expect(() => inspectRepeat({ pattern: '* * *', tz: 'UTC' }, from)).toThrow(/3 fields, not 5/);
    expect(() => inspectRepeat({ pattern: '0 2 * * *', tz: 'Mars/Olympus' }, from)).toThrow(/time zone Mars\/Olympus/);
  });
});

describe('scheduledRunSchema', () => {
  const run = {
    schedule: 'nightly',
    source: 's3://b/src/',
    output: 's3://b/out/',
    model: { hash: 'a'.repeat(64), variant: 'fp32', checkpoint: 'c', embedDim: 4, textLength: 8, imageSize: { height: 16, width: 16 } },
    labels: null,
    templates: [],
    suffixes: [],
    subDaily: false,
  };

  it('carries the decode mode of the runs a schedule starts (absent: exact), and refuses a bad one', () => {
    expect(scheduledRunSchema.parse({ ...run, decode: { mode: 'fast', reducingGap: 3 } }).decode).toEqual({ mode: 'fast', reducingGap: 3 });
    expect(scheduledRunSchema.parse(run).decode).toBeUndefined();
    expect(scheduledRunSchema.safeParse({ ...run, decode: { mode: 'fast', reducingGap: 0.5 } }).success).toBe(false);
  });
});
