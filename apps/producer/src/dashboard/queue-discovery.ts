import type { Redis } from 'ioredis';
import { parseQueueName, runRecordKey } from '@siglip-batch/jobs';
import type { RunRegistry } from '@siglip-batch/pipeline';

/** Escapes Redis glob characters, so that a prefix such as `{siglip}` or `a*b` matches itself. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * The model queues under a prefix: those BullMQ has created (`<prefix>:siglip-…:meta`, found
 * with SCAN, never KEYS) and those the known runs name (a run whose model no worker has served
 * yet still shows up). Sorted by name.
 */
export async function discoverQueues(redis: Redis, prefix: string, registry: RunRegistry, runLimit = 200): Promise<string[]> {
  const names = new Set<string>();
  const pattern = `${globEscape(prefix)}:siglip-*:meta`;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const name = key.slice(prefix.length + 1, -':meta'.length);
      if (parseQueueName(name)) names.add(name);
    }
  } while (cursor !== '0');
  const runIds = await registry.list(runLimit);
  if (runIds.length > 0) {
    const pipeline = redis.pipeline();
    for (const runId of runIds) pipeline.hget(runRecordKey(prefix, runId), 'queue');
    for (const [error, queue] of (await pipeline.exec()) ?? []) {
      if (!error && typeof queue === 'string' && parseQueueName(queue)) names.add(queue);
    }
  }
  return [...names].sort();
}
