import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '@siglip-batch/io';
import { RunFolder } from '@siglip-batch/run-format';
import { deleteGroupFiles, deleteRunGroups } from './index-run-groups';

/** A local store whose deletes take a while, counting how many are in flight at once. */
class SlowDeleteStore extends LocalObjectStore {
  inFlight = 0;
  mostInFlight = 0;
  override async delete(key: string): Promise<void> {
    this.inFlight++;
    this.mostInFlight = Math.max(this.mostInFlight, this.inFlight);
    try {
      await sleep(5);
      await super.delete(key);
    } finally {
      this.inFlight--;
    }
  }
}

let dir: string;
let store: SlowDeleteStore;
let folder: RunFolder;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'siglip-groups-'));
  store = new SlowDeleteStore(dir);
  folder = new RunFolder({ store, prefix: 'out/' }, 'r1');
  for (let group = 0; group < 20; group++) {
    const base = `_index/tmp/g-${String(group).padStart(8, '0')}/`;
    await store.put(folder.keyOf(`${base}_done.json`), Buffer.from('{}'));
    for (const partition of [0, 1, 2]) await store.put(folder.keyOf(`${base}p-${String(partition).padStart(4, '0')}-00000.parquet`), Buffer.from('x'));
  }
  await store.put(folder.keyOf('_index/p-0000/seg-1.parquet'), Buffer.from('kept'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function keys(prefix: string): Promise<string[]> {
  const found: string[] = [];
  for await (const info of store.list(folder.keyOf(prefix))) found.push(info.key.slice(folder.keyOf('').length));
  return found.sort();
}

describe('the run groups’ clean-up', () => {
  it('deleteGroupFiles removes one partition’s split files, several at once, and keeps the rest', async () => {
    await deleteGroupFiles(folder, 1);
    const left = await keys('_index/');
    expect(left.filter((key) => key.includes('/p-0001-'))).toEqual([]);
    expect(left.filter((key) => key.includes('/p-0000-') || key.includes('/p-0002-'))).toHaveLength(40);
    expect(left.filter((key) => key.endsWith('/_done.json'))).toHaveLength(20);
    expect(left).toContain('_index/p-0000/seg-1.parquet');
    expect(store.mostInFlight).toBeGreaterThan(1);
  });

  it('deleteRunGroups removes every split file and marker, several at once, and nothing outside them', async () => {
    await deleteRunGroups(folder);
    expect(await keys('_index/tmp/')).toEqual([]);
    expect(await keys('_index/')).toEqual(['_index/p-0000/seg-1.parquet']);
    expect(store.mostInFlight).toBeGreaterThan(1);
    expect(store.mostInFlight).toBeLessThanOrEqual(16);
  });
});
