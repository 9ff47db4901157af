/**
 * The streaming finaliser on a local run folder of many tiny shards: the manifest it writes does
 * not grow with the run (its list of files is the file table beside it), stats are read a
 * bounded number at a time and in order, and a run that misses shards gets a bounded outcome
 * and no table.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '@siglip-batch/io';
import { collectRunFiles, openRunFolder, runFileCounts, type RunFolder } from '@siglip-batch/run-format';
import { errorsKey, partKey, type RunSpec, type ShardStats } from '@siglip-batch/jobs';
import { runSpecFixture } from '@siglip-batch/jobs/testing';
import { MISSING_SHARDS_NAMED, RUN_FILES_TABLE_KEY, finalizeRun } from './run-finalizer';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'siglip-finalize-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function specOf(runId: string): RunSpec {
  return runSpecFixture({ runId, shardSize: 3, createdAt: '2026-12-01T00:00:00.000Z' });
}

/** Shard s: 3 objects; every seventh shard has one error. */
function statsOf(runId: string, shard: number): ShardStats {
  const error = shard % 7 === 0 ? 1 : 0;
  return {
    schemaVersion: 1,
    runId,
    shard,
    planned: 3,
    ok: 3 - error,
    error,
    errorCodes: error ? { decode_failed: 1 } : {},
    part: { key: partKey(shard), rows: 3 - error },
    errors: error ? { key: errorsKey(shard), rows: 1 } : null,
    attempt: 1,
    worker: 'w',
    startedAt: '',
    finishedAt: '',
    timingsMs: { fetch: 2, infer: 5 },
  };
}

async function plannedRun(runId: string, shards: number, options: { skip?: (shard: number) => boolean } = {}): Promise<RunFolder> {
  const folder = openRunFolder({ output: { store: new LocalObjectStore(root), prefix: 'out/' }, runId: runId });
  await folder.writeListing({ schemaVersion: 1, runId, shardsPlanned: shards, objectsPlanned: shards * 3, lastKey: 'k', complete: true, updatedAt: '2026-12-01T00:00:01.000Z' });
  const work = Array.from({ length: shards }, (_, shard) => shard).filter((shard) => !options.skip?.(shard));
  for (let i = 0; i < work.length; i += 64) await Promise.all(work.slice(i, i + 64).map((shard) => folder.writeStats(statsOf(runId, shard))));
  return folder;
}

describe('finalizeRun', () => {
  it('writes a manifest whose size does not depend on the number of shards, and the file table beside it', async () => {
    const sizes: Record<number, string> = {};
    for (const shards of [10, 1000]) {
      const runId = `r${shards}`;
      const folder = await plannedRun(runId, shards);
      const outcome = await finalizeRun({ folder, spec: specOf(runId), updateIndex: false, concurrency: 8 });
      expect(outcome.state).toBe('completed');
      const text = await readFile(join(root, 'out', runId, '_manifest.json'), 'utf8');
      sizes[shards] = text;
      const manifest = outcome.state === 'completed' ? outcome.manifest : undefined!;
      const errorShards = Math.ceil(shards / 7);
      expect(manifest).toMatchObject({
        schemaVersion: 2,
        shards,
        files: { key: RUN_FILES_TABLE_KEY, rows: shards + errorShards, parts: shards, errors: errorShards, deletions: 0, replaced: 0 },
        counts: { planned: shards * 3, ok: shards * 3 - errorShards, error: errorShards, byErrorCode: { decode_failed: errorShards } },
        timings: { shardMs: { fetch: shards * 2, infer: shards * 5 } },
      });
      expect(manifest).not.toHaveProperty('parts');
      // The table lists every file in shard order, with its rows, through the reader every command uses.
      const parts = await collectRunFiles(folder, manifest, { kind: 'part' });
      expect(parts.map((part) => part.shard)).toEqual(Array.from({ length: shards }, (_, shard) => shard));
      expect(parts.every((part) => part.key === partKey(part.shard!) && part.rows === (part.shard! % 7 === 0 ? 2 : 3))).toBe(true);
      expect((await collectRunFiles(folder, manifest, { kind: 'errors' })).map((file) => file.key)).toEqual(
        Array.from({ length: errorShards }, (_, i) => errorsKey(i * 7)),
      );
      expect(runFileCounts(manifest)).toEqual({ parts: shards, errors: errorShards, deletions: 0, replaced: 0 });
    }
    // 100 times the shards: the same manifest but for the digits of its numbers.
    const shape = (text: string) => text.replace(/r\d+/g, 'r').replace(/\d+/g, '0');
    expect(shape(sizes[1000]!)).toBe(shape(sizes[10]!));
    expect(sizes[1000]!.length - sizes[10]!.length).toBeLessThan(40);
  });

  it('reads stats a bounded number at a time, in shard order', async () => {
    const folder = await plannedRun('bounded', 300);
    let inFlight = 0;
    let peak = 0;
    const asked: number[] = [];
    const readStats = folder.readStats.bind(folder);
    folder.readStats = async (shard: number) => {
      asked.push(shard);
      peak = Math.max(peak, ++inFlight);
      try {
        await new Promise((resolve) => setTimeout(resolve, shard % 3));
        return await readStats(shard);
      } finally {
        inFlight--;
      }
    };
    const outcome = await finalizeRun({ folder, spec: specOf('bounded'), updateIndex: false, concurrency: 5 });
    expect(outcome.state).toBe('completed');
    expect(peak).toBe(5);
    expect(asked).toEqual(Array.from({ length: 300 }, (_, shard) => shard));
  });

  it('a run missing shards waits with the first few named and all counted, and leaves no table', async () => {
    const missing = (shard: number) => shard % 10 === 3;
    const folder = await plannedRun('gaps', 500, { skip: missing });
    const outcome = await finalizeRun({ folder, spec: specOf('gaps'), updateIndex: false });
    expect(outcome).toEqual({
      state: 'waiting',
      missing: Array.from({ length: MISSING_SHARDS_NAMED }, (_, i) => i * 10 + 3),
      missingCount: 50,
    });
    expect(await folder.readManifest()).toBeUndefined();
    expect(await readdir(join(root, 'out', 'gaps'))).not.toContain('_manifest');
  });

  it('refuses stats that do not add up to the plan, writing neither table nor manifest', async () => {
    const folder = await plannedRun('short', 20);
    await folder.writeStats({ ...statsOf('short', 4), ok: 1 });
    await expect(finalizeRun({ folder, spec: specOf('short'), updateIndex: false })).rejects.toThrow(/stats count 58 rows but 60 objects were planned/);
    expect(await folder.readManifest()).toBeUndefined();
    expect(await readdir(join(root, 'out', 'short'))).not.toContain('_manifest');
  });
});
