import { describe, expect, it } from 'vitest';
import { isRunId } from '@siglip-batch/jobs';
import { scheduleNameSchema, scheduledRunId } from './scheduled-run';

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
});
