import { z } from 'zod';
import { lazySchema } from './lazy-schema';
import { RUN_ID_PATTERN } from './run-id';

/**
 * A shard job carries only run id + shard number: the object list is in the store
 * (`_plan/<shard>.json`), so payloads stay tiny whatever the shard size.
 */
export const shardJobDataSchema = lazySchema(() =>
  z.object({
    runId: z.string().regex(RUN_ID_PATTERN),
    shard: z.number().int().nonnegative(),
  }),
);
export type ShardJobData = z.infer<typeof shardJobDataSchema>;

export const finalizeJobDataSchema = lazySchema(() => z.object({ runId: z.string().regex(RUN_ID_PATTERN) }));
export type FinalizeJobData = z.infer<typeof finalizeJobDataSchema>;

/** A finalised run's merge into one partition of its output's processed index. */
export const indexPartitionJobDataSchema = lazySchema(() =>
  z.object({
    runId: z.string().regex(RUN_ID_PATTERN),
    partition: z.number().int().nonnegative(),
  }),
);
export type IndexPartitionJobData = z.infer<typeof indexPartitionJobDataSchema>;

/** BullMQ job names on a model queue. */
export const JOB_NAMES = { shard: 'shard', finalize: 'finalize', indexPartition: 'index-partition' } as const;
