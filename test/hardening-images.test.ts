/**
 * Hardening probes, poison images (issue 12, item 1). A PNG of 100,000,000 × 1 pixels (292 kB)
 * is within the 100 Mpx limit, but resizing its long side to the model's size needs a
 * coefficient table of gigabytes: it used to fail the whole shard ("offset is out of bounds",
 * 5 GB), and 1 × 100,000,000 cost 4 GB. Now each side is checked from the header too.
 *
 * - A real worker process on a run (one shard) holding both poison PNGs among good photos:
 *   exactly one `too_large_pixels` row each, every good photo embedded, no shard retried, the
 *   run `completed`, the worker's peak resident set under 1.5 GB.
 * - `embed` (one process, no Redis) on the same files: exit 0 with the same rows.
 * - The pixel ceiling: `enqueue --max-pixels 999999999999` is refused; a run spec raised to it
 *   in Redis anyway (as anyone with Redis access could) does not raise a worker's own ceiling.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRecordKey } from '@siglip-batch/jobs';
import { REPO_ROOT, TINY_MODEL, runCli } from './support/cli';
import { duck, sqlFiles } from './support/fault-checks';
import { FAST_WORKER, createFaultWorld, type FaultWorld } from './support/fault-run';
import { probe } from './support/hardening-report';
import { flatPng } from './support/poison-images';
import { MiB, startRssSampler } from './support/process-metrics';

const AREA = 'poison images';
const GOOD = ['astronaut_baseline.jpg', 'astronaut_large_4000x3000.jpg', 'chelsea.webp', 'coffee_palette.png', 'camera_grey16.png'];
const WIDE = 'poison-100000000x1.png';
const TALL = 'poison-1x100000000.png';
const RSS_LIMIT_MB = 1536;
const work = mkdtempSync(join(tmpdir(), 'siglip-poison-'));
const localSource = join(work, 'src');

let world: FaultWorld;
const poison = new Map<string, Buffer>();

beforeAll(async () => {
  poison.set(WIDE, await flatPng(100_000_000, 1));
  poison.set(TALL, await flatPng(1, 100_000_000));
  world = await createFaultWorld();
  mkdirSync(localSource, { recursive: true });
  for (const name of GOOD) {
    const bytes = readFileSync(join(REPO_ROOT, 'fixtures/images', name));
    await world.put(`src/${name}`, bytes);
    writeFileSync(join(localSource, name), bytes);
  }
  for (const [name, bytes] of poison) {
    await world.put(`src/${name}`, bytes);
    writeFileSync(join(localSource, name), bytes);
  }
});

afterAll(async () => {
  await world?.close();
  rmSync(work, { recursive: true, force: true });
});

interface WorkerOutcome {
  state: string;
  ok: number;
  errorCodes: Map<string, string>;
  retried: number;
  problems: string[];
  peakMb: number;
}

let workerRun: Promise<WorkerOutcome> | undefined;

/** One worker run over both poison images and the good photos, shared by the probes below. */
function runWorkerOnce(): Promise<WorkerOutcome> {
  workerRun ??= (async () => {
    const worker = await world.worker(FAST_WORKER);
    // The worker app is a child of the `siglip-batch` launcher: sample the tree; `hwmBytes` is
    // the kernel's high-water mark of its largest process, which catches spikes between samples.
    const sampler = startRssSampler(worker.child.pid!, { includeChildren: true, intervalMs: 50 });
    const enqueued = await world.enqueue('poison', ['--shard-size', '100']);
    expect(enqueued.code, enqueued.stderr).toBe(0);
    const state = await world.waitEnd('poison');
    const rss = sampler.stop();
    await worker.stop();
    const check = await world.check('poison');
    return {
      state,
      ok: check.ok,
      errorCodes: new Map([...check.errorCodes].map(([uri, code]) => [uri.slice(uri.lastIndexOf('/') + 1), code])),
      retried: check.retriedObjects,
      problems: check.problems,
      peakMb: Math.round(rss.hwmBytes / MiB),
    };
  })();
  return workerRun;
}

describe('hardening: poison images', () => {
  it.each([
    [WIDE, '100,000,000 × 1'],
    [TALL, '1 × 100,000,000'],
  ])('a worker gives %s one error row among the good rows, the run completes, RSS stays bounded', async (name, size) => {
    await probe(
      AREA,
      `worker: PNG ${size} (${Math.round(poison.get(name)!.length / 1000)} kB) among ${GOOD.length} good photos in one shard`,
      `1 too_large_pixels row, ${GOOD.length} ok, run completed, no shard retried, worker peak RSS < ${RSS_LIMIT_MB} MB`,
      async () => {
        const run = await runWorkerOnce();
        expect(run.state).toBe('completed');
        expect(run.problems, run.problems.join('; ')).toEqual([]);
        expect(Object.fromEntries(run.errorCodes)).toEqual({ [WIDE]: 'too_large_pixels', [TALL]: 'too_large_pixels' });
        expect(run.ok).toBe(GOOD.length);
        expect(run.retried).toBe(0);
        expect(run.peakMb).toBeLessThan(RSS_LIMIT_MB);
        const rows = [...run.errorCodes].filter(([uri]) => uri === name);
        return `${rows.length} error row ${rows[0]![1]}, ${run.ok} ok, ${run.state}, ${run.retried} retried, worker peak RSS ${run.peakMb} MB`;
      },
    );
  });

  it('embed (one process) on the same files exits 0 with one error row per poison image', async () => {
    await probe(
      AREA,
      `embed: PNG 100,000,000 × 1 and 1 × 100,000,000 among ${GOOD.length} good photos`,
      `exit 0, 2 too_large_pixels rows naming the side limit, ${GOOD.length} ok`,
      async () => {
        const out = join(work, 'out');
        const child = runCli(['embed', '--source', localSource, '--out', out, '--model', TINY_MODEL, '--run', 'poison-local', '--threads', '1'], {
          ...process.env,
          REDIS_URL: 'redis://127.0.0.1:1',
        });
        const result = await child;
        expect(result.code, result.stderr).toBe(0);
        expect(result.stderr).toContain(`${GOOD.length} embedded, 2 errors (too_large_pixels 2)`);
        const folder = join(out, 'poison-local', 'errors');
        const errorFiles = readdirSync(folder).filter((f) => f.startsWith('errors-')).map((f) => join(folder, f));
        const rows = await duck<{ uri: string; error_code: string; error: string }>(`SELECT uri, error_code, error FROM read_parquet(${sqlFiles(errorFiles)}) ORDER BY uri`);
        expect(rows.map((r) => [r.uri.slice(r.uri.lastIndexOf('/') + 1), r.error_code, r.error])).toEqual([
          [WIDE, 'too_large_pixels', '100000000×1: a side of 100000000 pixels exceeds the limit of 65535 per side'],
          [TALL, 'too_large_pixels', '1×100000000: a side of 100000000 pixels exceeds the limit of 65535 per side'],
        ]);
        return `exit 0, ${rows.length} error rows ${rows.map((r) => r.error_code).join(' + ')} ("…a side of 100000000 pixels exceeds the limit of 65535 per side"), ${GOOD.length} ok`;
      },
    );
  });

  it('refuses enqueue --max-pixels 999999999999 and a worker --max-pixels above one gigapixel', async () => {
    await probe(AREA, 'enqueue --max-pixels 999999999999', 'usage error naming the limit, nothing enqueued', async () => {
      const result = await world.enqueue('huge-limit', ['--max-pixels', '999999999999']);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('--max-pixels must be at most 1000000000');
      expect(await world.registry.get('huge-limit')).toBeUndefined();
      return `exit ${result.code}: "${result.stderr.trim().split('\n')[0]}"`;
    });
    await probe(AREA, 'worker --max-pixels 999999999999', 'refused at start', async () => {
      const result = await runCli(['worker', '--model', TINY_MODEL, '--max-pixels', '999999999999'], world.env);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('--max-pixels must be at most 1000000000');
      return `exit ${result.code}: "${result.stderr.trim().split('\n')[0]}"`;
    });
  });

  it("cannot raise a worker's pixel ceiling through the run spec in Redis", async () => {
    await probe(
      AREA,
      'run spec maxPixels raised to 999999999999 in Redis; a 30000×30000 header bomb',
      'too_large_pixels at the worker ceiling (100000000), good photo embedded, run completed',
      async () => {
        // Its own world: the run must not be taken before its spec is raised.
        const other = await createFaultWorld();
        try {
          await other.put('src/bomb.png', readFileSync(join(REPO_ROOT, 'fixtures/images-broken/bomb_header_only.png')));
          await other.put('src/chelsea.webp', readFileSync(join(REPO_ROOT, 'fixtures/images/chelsea.webp')));
          const enqueued = await other.enqueue('raised', ['--max-pixels', '1000000000']);
          expect(enqueued.code, enqueued.stderr).toBe(0);
          const key = runRecordKey(other.prefix, 'raised');
          const spec = JSON.parse((await other.redis.hget(key, 'spec'))!) as { filters: { maxPixels: number } };
          spec.filters.maxPixels = 999_999_999_999;
          await other.redis.hset(key, 'spec', JSON.stringify(spec));
          expect((await other.registry.get('raised'))!.spec.filters.maxPixels).toBe(999_999_999_999);

          await other.worker(FAST_WORKER);
          const state = await other.waitEnd('raised');
          const check = await other.check('raised');
          expect(state).toBe('completed');
          expect(check.problems, check.problems.join('; ')).toEqual([]);
          expect(check.ok).toBe(1);
          // Under the spec's limit the header passes and the truncated data fails to decode
          // (decode_failed); under the worker's ceiling it is refused from the header.
          const codes = [...check.errorCodes.values()];
          expect(codes).toEqual(['too_large_pixels']);
          return `error row ${codes[0]} (30000×30000 over the worker's 100000000), ${check.ok} ok, ${state}`;
        } finally {
          await other.close();
        }
      },
    );
  });
});
