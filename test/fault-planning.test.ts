/**
 * Fault suite, planning (issue 13, item 1): a planner SIGKILLed in the middle of its units while
 * another producer works on the run, and the only producer SIGKILLed mid-run and started again.
 * Units are taken over (BullMQ's stalled-job check on the run's planning queue) and resumed from
 * their own cursors; plans written before the kill are never rewritten. Each run is then checked
 * the strong way: nothing lost, nothing doubled.
 */
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listKeys, scenario } from './support/fault-checks';
import { createFaultWorld, until, type FaultWorld } from './support/fault-run';
import { planningQueueOf, startProducer } from './support/producer-process';

let world: FaultWorld;
beforeEach(async () => {
  world = await createFaultWorld();
});
afterEach(async () => {
  await world?.close();
});

/** A dead planner's units are taken over after ~3 s instead of 30 s. */
const SHORT_LOCK = { SIGLIP_BATCH_PLAN_LOCK_MS: '3000' };
/** Backpressure keeps every planner inside its unit until a worker drains the queue. */
const UNIT_ARGS = ['--shard-size', '4', '--planning-units', '4', '--max-waiting', '2'];

/** ETags of the plans written so far (they must never change). */
async function planEtags(runId: string): Promise<Map<string, string>> {
  const etags = new Map<string, string>();
  for (const key of await listKeys(world.s3, world.bucket, `out/${runId}/_plan/`)) {
    if (!/_plan\/\d{8}\.json$/.test(key)) continue;
    const head = await world.s3.send(new HeadObjectCommand({ Bucket: world.bucket, Key: key }));
    etags.set(key, head.ETag!);
  }
  return etags;
}

describe('fault: planners', () => {
  it('P1: a planner SIGKILLed mid-unit, a second producer alive: it takes the units over and the run completes', async () => {
    await scenario('P1 planner SIGKILL mid-unit, second producer alive', async () => {
      const uris = await world.upload(64);
      const env = { ...world.env, ...SHORT_LOCK };
      const victim = startProducer('plan-kill', world.bucket, [...UNIT_ARGS, '--planners', '2'], env);
      const survivor = startProducer('plan-kill', world.bucket, [...UNIT_ARGS, '--planners', '2'], env);
      const units = planningQueueOf(world.redis, world.prefix, 'plan-kill');
      try {
        await until(async () => (await units.getJobCounts('active'))['active'] === 4, 90_000, 'four units being planned');
        const held = (await units.getActive()).filter((job) => victim.owns(job.processedBy));
        expect(held).toHaveLength(2);
        // Mid-unit: each of its units has written plans, and none is complete.
        await until(async () => (await world.registry.get('plan-kill'))!.shardsPlanned >= 2, 30_000, 'plans written');
        const before = await planEtags('plan-kill');
        await victim.stop('SIGKILL');
        await world.worker();
        const result = await survivor.exited();
        expect(result.code, result.stderr).toBe(0);
        expect(JSON.parse(result.stdout)).toMatchObject({ shardsPlanned: 16, objectsPlanned: 64, planningUnits: 4 });
        // Every unit ended in the survivor's hands, and no plan written before the kill changed.
        const finished = await units.getCompleted();
        expect(finished).toHaveLength(4);
        for (const job of finished) expect(survivor.owns(job.processedBy)).toBe(true);
        const after = await planEtags('plan-kill');
        for (const [key, etag] of before) expect(after.get(key)).toBe(etag);
      } finally {
        await victim.stop('SIGKILL');
        await survivor.stop('SIGKILL');
        await units.close();
      }
      expect(await world.waitEnd('plan-kill')).toBe('completed');
      const check = await world.check('plan-kill', uris);
      expect(check.problems, check.problems.join('; ')).toEqual([]);
      return check;
    });
  });

  it('P2: the only producer SIGKILLed mid-run and started again: every unit resumes from its cursor', async () => {
    await scenario('P2 producer SIGKILL mid-run, restarted', async () => {
      const uris = await world.upload(64);
      const env = { ...world.env, ...SHORT_LOCK };
      const first = startProducer('plan-restart', world.bucket, [...UNIT_ARGS, '--planners', '4'], env);
      const units = planningQueueOf(world.redis, world.prefix, 'plan-restart');
      try {
        await until(async () => (await units.getJobCounts('active'))['active'] === 4, 90_000, 'four units being planned');
        await until(async () => (await world.registry.get('plan-restart'))!.shardsPlanned >= 2, 30_000, 'plans written');
        const before = await planEtags('plan-restart');
        await first.stop('SIGKILL');
        // Workers go on with what was queued while no producer runs.
        await world.worker();
        const restarted = await world.enqueue('plan-restart', ['--resume', 'plan-restart', '--planners', '2'], SHORT_LOCK);
        expect(restarted.code, restarted.stderr).toBe(0);
        expect(JSON.parse(restarted.stdout)).toMatchObject({ shardsPlanned: 16, objectsPlanned: 64, planningUnits: 4 });
        const after = await planEtags('plan-restart');
        expect(after.size).toBe(16);
        for (const [key, etag] of before) expect(after.get(key)).toBe(etag);
      } finally {
        await first.stop('SIGKILL');
        await units.close();
      }
      expect(await world.waitEnd('plan-restart')).toBe('completed');
      const check = await world.check('plan-restart', uris);
      expect(check.problems, check.problems.join('; ')).toEqual([]);
      return check;
    });
  });
});
