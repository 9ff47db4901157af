import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { describe, expect, test } from '@siglip-batch/testing';
import { LocalObjectStore } from '@siglip-batch/io';
import { encodeErrorsFile, openRunFolder, type RunFolder } from '@siglip-batch/run-format';
import { errorsKey, runRecentErrorFilesKey, type ShardStats } from '@siglip-batch/jobs';
import { readRecentErrorFiles, recordRecentErrorFile } from '@siglip-batch/pipeline';
import { readRecentErrors } from './recent-errors';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'recent-errors-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const SHARDS = 8;

/** A run folder with one errors file per shard (one row each), and the stats a worker commits. */
async function runWithErrors(): Promise<{ folder: RunFolder; stats: ShardStats[] }> {
  const folder = openRunFolder({ output: { store: new LocalObjectStore(dir), prefix: 'out/' }, runId: 'errs' });
  const stats: ShardStats[] = [];
  for (let shard = 0; shard < SHARDS; shard++) {
    const key = errorsKey(shard);
    const bytes = encodeErrorsFile({ uri: [`s3://b/img-${shard}.jpg`], etag: [null], sizeBytes: [1], errorCode: ['decode_failed'], error: [`shard ${shard}`], metadata: {} });
    await folder.store.put(folder.keyOf(key), bytes);
    stats.push({ schemaVersion: 1, runId: 'errs', shard, planned: 1, ok: 0, error: 1, errorCodes: { decode_failed: 1 }, part: null, errors: { key, rows: 1 }, attempt: 1, worker: 'w', startedAt: '', finishedAt: '', timingsMs: {} });
  }
  return { folder, stats };
}

describe('recent errors', () => {
  test('past the listing cap, the files Redis recorded show the newest shard’s errors', async ({ redis, queuePrefix }) => {
    const { folder, stats } = await runWithErrors();
    // The listing alone stops at its cap: the newest shards are not among the files it saw.
    const listed = await readRecentErrors(folder, { listCap: 3, files: 1 });
    expect(listed.truncated).toBe(true);
    expect(listed.rows[0]?.uri).not.toBe(`s3://b/img-${SHARDS - 1}.jpg`);

    // Shards commit in this order; a shard without error rows leaves the record alone.
    for (const shard of [2, 0, 5, 1, 7]) await recordRecentErrorFile(redis, queuePrefix, stats[shard]!, 3);
    await recordRecentErrorFile(redis, queuePrefix, { ...stats[3]!, error: 0, errors: null }, 3);
    const recorded = await readRecentErrorFiles(redis, queuePrefix, 'errs');
    expect(recorded).toEqual([errorsKey(7), errorsKey(1), errorsKey(5)]);
    expect(await redis.llen(runRecentErrorFilesKey(queuePrefix, 'errs'))).toBe(3);

    const recent = await readRecentErrors(folder, { listCap: 3, recorded });
    expect(recent).toMatchObject({ files: 3, truncated: false });
    expect(recent.rows.map((row) => [row.uri, row.file])).toEqual([
      [`s3://b/img-7.jpg`, errorsKey(7)],
      [`s3://b/img-1.jpg`, errorsKey(1)],
      [`s3://b/img-5.jpg`, errorsKey(5)],
    ]);
  });

  test('a shard recorded again moves to the head instead of appearing twice', async ({ redis, queuePrefix }) => {
    const { stats } = await runWithErrors();
    for (const shard of [4, 6, 4]) await recordRecentErrorFile(redis, queuePrefix, stats[shard]!);
    expect(await readRecentErrorFiles(redis, queuePrefix, 'errs')).toEqual([errorsKey(4), errorsKey(6)]);
  });

  test('without a record in Redis the bounded listing is the fallback', async () => {
    const { folder } = await runWithErrors();
    const recent = await readRecentErrors(folder, { recorded: [] });
    expect(recent).toMatchObject({ files: SHARDS, truncated: false });
    expect(recent.rows).toHaveLength(3);
  });
});
