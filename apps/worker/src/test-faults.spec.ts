import { describe, expect, it } from 'vitest';
import { workerFaultsFromEnvironment } from './test-faults';

describe('workerFaultsFromEnvironment', () => {
  it('is empty in production (no test variables)', () => {
    expect(workerFaultsFromEnvironment({ PATH: '/usr/bin' })).toEqual({});
  });

  it('turns the fault suite variables into options', () => {
    expect(
      workerFaultsFromEnvironment({
        SIGLIP_BATCH_TEST_INFER_DELAY_MS: '250',
        SIGLIP_BATCH_TEST_INFER_ERROR: 'broken model',
        SIGLIP_BATCH_TEST_FINALIZE_DELAY_MS: '900',
        SIGLIP_BATCH_TEST_CRASH_AT: 'after-stats',
      }),
    ).toEqual({ inference: { visionDelayMs: 250, visionError: 'broken model' }, finalizeDelayMs: 900, crashAt: 'after-stats' });
  });

  it('ignores values that are not faults', () => {
    expect(workerFaultsFromEnvironment({ SIGLIP_BATCH_TEST_INFER_DELAY_MS: 'soon', SIGLIP_BATCH_TEST_CRASH_AT: 'whenever' })).toEqual({});
  });
});
