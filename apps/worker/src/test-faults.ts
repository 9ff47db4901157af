import type { InferenceFaults } from '@siglip-batch/model';

/**
 * Faults the cross-process fault suite (test/fault-*.test.ts, test/hardening-states.test.ts)
 * makes a real worker process fake. The libraries take them as options; this is the one place
 * that reads them from the environment, in the worker's entry point. Unset in production.
 */
export interface WorkerFaults {
  /** A slow or broken model (`SIGLIP_BATCH_TEST_INFER_DELAY_MS`, `SIGLIP_BATCH_TEST_INFER_ERROR`). */
  inference?: InferenceFaults;
  /** Pause right before the finaliser commits (`SIGLIP_BATCH_TEST_FINALIZE_DELAY_MS`): a cancel races it. */
  finalizeDelayMs?: number;
  /** SIGKILL the process at this commit point of a shard (`SIGLIP_BATCH_TEST_CRASH_AT`). */
  crashAt?: 'after-part-put' | 'after-stats';
}

export function workerFaultsFromEnvironment(env: NodeJS.ProcessEnv): WorkerFaults {
  const delayMs = Number(env['SIGLIP_BATCH_TEST_INFER_DELAY_MS'] ?? 0) || 0;
  const error = env['SIGLIP_BATCH_TEST_INFER_ERROR'] || undefined;
  const finalizeDelayMs = Number(env['SIGLIP_BATCH_TEST_FINALIZE_DELAY_MS'] ?? 0) || 0;
  const crashAt = env['SIGLIP_BATCH_TEST_CRASH_AT'];
  return {
    ...(delayMs > 0 || error ? { inference: { ...(delayMs > 0 ? { visionDelayMs: delayMs } : {}), ...(error ? { visionError: error } : {}) } } : {}),
    ...(finalizeDelayMs > 0 ? { finalizeDelayMs } : {}),
    ...(crashAt === 'after-part-put' || crashAt === 'after-stats' ? { crashAt } : {}),
  };
}
