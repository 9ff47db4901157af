import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore, type ObjectStore } from '@siglip-batch/io';
import { openRunFolder, type RunFolder } from '@siglip-batch/run-format';
import { forEachStoredStats } from './stored-stats';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'stored-stats-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A local store whose reads take a while, and that records how many run at once. */
function slowStore(): { store: ObjectStore; reads: { inFlight: number; max: number; total: number } } {
  const inner = new LocalObjectStore(dir);
  const reads = { inFlight: 0, max: 0, total: 0 };
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      if (property !== 'get') return Reflect.get(target, property, receiver) as unknown;
      return async (key: string, options?: Parameters<ObjectStore['get']>[1]) => {
        reads.total++;
        reads.max = Math.max(reads.max, ++reads.inFlight);
        try {
          await new Promise((resolve) => setTimeout(resolve, 5));
          return await target.get(key, options);
        } finally {
          reads.inFlight--;
        }
      };
    },
  });
  return { store, reads };
}

async function writeStats(folder: RunFolder, shards: number): Promise<void> {
  for (let shard = 0; shard < shards; shard++) {
    await folder.writeStats({ schemaVersion: 1, runId: 'r', shard, planned: 3, ok: 2, error: 1, errorCodes: { not_found: 1 }, part: null, errors: null, attempt: 1, worker: 'w', startedAt: '', finishedAt: '', timingsMs: {} });
  }
}

describe('forEachStoredStats', () => {
  it('reads every listed shard, a bounded number at once', async () => {
    const { store, reads } = slowStore();
    const folder = openRunFolder({ output: { store, prefix: 'out/' }, runId: 'r' });
    await writeStats(folder, 45);
    let ok = 0;
    const scan = await forEachStoredStats(folder, { concurrency: 4, batch: 10 }, (stats) => {
      ok += stats.ok;
    });
    expect(scan).toEqual({ listed: 45, read: 45 });
    expect(ok).toBe(90);
    expect(reads.total).toBe(45);
    expect(reads.max).toBeGreaterThan(1);
    expect(reads.max).toBeLessThanOrEqual(4);
  });

  it('reads only the shards select asks for, and counts the others as listed', async () => {
    const { store, reads } = slowStore();
    const folder = openRunFolder({ output: { store, prefix: 'out/' }, runId: 'r' });
    await writeStats(folder, 25);
    const seen: number[] = [];
    const batches: number[] = [];
    const scan = await forEachStoredStats(
      folder,
      {
        batch: 10,
        select: async (shards) => {
          batches.push(shards.length);
          return shards.map((shard) => shard % 5 === 0);
        },
      },
      (stats) => {
        seen.push(stats.shard);
      },
    );
    expect(scan).toEqual({ listed: 25, read: 5 });
    expect(batches).toEqual([10, 10, 5]);
    expect(seen.sort((a, b) => a - b)).toEqual([0, 5, 10, 15, 20]);
    expect(reads.total).toBe(5);
  });
});
