/**
 * Fault suite, scenario 10 (issue 6): bad data is data. Every broken fixture and every exotic
 * valid fixture is its own object of one run: each broken one must give its error row, each
 * valid one a correct embedding (equal to libs/model called directly). The 30000×30000 bomb is
 * refused before decoding (the worker's resident set stays under 500 MB); an SVG that points
 * at an external image is refused and nothing is fetched from inside it.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiglipModel } from '@siglip-batch/model';
import { REPO_ROOT, TINY_MODEL } from './support/cli';
import { cosine, duck, scenario, sqlFiles } from './support/fault-checks';
import { FAST_WORKER, createFaultWorld, type FaultWorld } from './support/fault-run';
import { MiB, startRssSampler } from './support/process-metrics';

const VALID_DIR = join(REPO_ROOT, 'fixtures/images');
const BROKEN_DIR = join(REPO_ROOT, 'fixtures/images-broken');
// 742 kB: above the run's --max-bytes, so it stands for "an object over the byte limit".
const OVER_BYTES = 'astronaut_large_4000x3000.jpg';
const MAX_BYTES = 500_000;

const EXPECTED_ERRORS: Record<string, string> = {
  'corrupt.jpg': 'decode_failed',
  'truncated.jpg': 'decode_failed',
  'truncated.png': 'decode_failed',
  'empty.jpg': 'empty_object',
  'html.jpg': 'unsupported_format',
  'notes.txt': 'unsupported_format',
  'document.pdf': 'unsupported_format',
  'drawing.svg': 'unsupported_format',
  'external-image.svg': 'unsupported_format',
  'bomb_30000x30000.png': 'too_large_pixels',
  'bomb_header_only.png': 'too_large_pixels',
  [OVER_BYTES]: 'too_large_bytes',
};

let world: FaultWorld;
let server: Server;
const serverHits: string[] = [];

beforeAll(async () => {
  world = await createFaultWorld();
  server = createServer((req, res) => {
    serverHits.push(req.url ?? '');
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  for (const name of readdirSync(VALID_DIR)) await world.put(`src/${name}`, readFileSync(join(VALID_DIR, name)));
  for (const name of readdirSync(BROKEN_DIR)) await world.put(`src/${name}`, readFileSync(join(BROKEN_DIR, name)));
  const svg =
    `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="64" height="64">` +
    `<image href="http://127.0.0.1:${port}/x.png" xlink:href="http://127.0.0.1:${port}/y.png" width="64" height="64"/></svg>`;
  await world.put('src/external-image.svg', svg);
});

afterAll(async () => {
  await world?.close();
  await new Promise((resolve) => server?.close(resolve));
});

describe('fault: bad data', () => {
  it('10: gives every broken object its error row and every exotic image a correct embedding', async () => {
    await scenario('10 bad data table', async () => {
      const worker = await world.worker(FAST_WORKER);
      const sampler = startRssSampler(worker.child.pid!, { includeChildren: true, intervalMs: 50 });
      const enqueued = await world.enqueue('bad', ['--shard-size', '16', '--max-bytes', String(MAX_BYTES)]);
      expect(enqueued.code, enqueued.stderr).toBe(0);
      expect(await world.waitEnd('bad')).toBe('completed');
      const rss = sampler.stop();
      const check = await world.check('bad');
      expect(check.problems, check.problems.join('; ')).toEqual([]);

      const byName = new Map([...check.errorCodes].map(([uri, code]) => [uri.slice(uri.lastIndexOf('/') + 1), code]));
      expect(Object.fromEntries(byName)).toEqual(EXPECTED_ERRORS);
      expect(serverHits).toEqual([]);
      // Refused before decoding: 900 Mpixels decoded would be ≥ 900 MB. `hwmBytes` is the
      // kernel's high-water mark of the largest single process of the tree: the worker app
      // (the `siglip-batch` launcher is a process of its own, with its own baseline).
      expect(rss.hwmBytes / MiB).toBeLessThan(500);

      const valid = readdirSync(VALID_DIR).filter((name) => name !== OVER_BYTES);
      expect(check.ok).toBe(valid.length);
      const work = mkdtempSync(join(tmpdir(), 'fault-bad-'));
      const model = await SiglipModel.load(TINY_MODEL, { device: 'cpu', intraOpThreads: 1 });
      try {
        const paths: string[] = [];
        for (const part of check.files.parts) {
          const response = await world.s3.send(new GetObjectCommand({ Bucket: world.bucket, Key: `out/bad/${part.key}` }));
          const path = join(work, part.key.replaceAll('/', '_'));
          writeFileSync(path, await response.Body!.transformToByteArray());
          paths.push(path);
        }
        const rows = await duck<{ uri: string; width: number; height: number; embedding: number[] }>(
          `SELECT uri, width, height, embedding FROM read_parquet(${sqlFiles(paths)})`,
        );
        expect(rows.map((row) => row.uri.slice(row.uri.lastIndexOf('/') + 1)).sort()).toEqual([...valid].sort());
        for (const row of rows) {
          const name = row.uri.slice(row.uri.lastIndexOf('/') + 1);
          const { pixels, width, height } = await model.preprocessor.preprocess(readFileSync(join(VALID_DIR, name)));
          const direct = await model.embedImages(pixels, 1);
          expect(cosine(direct, row.embedding), name).toBeGreaterThanOrEqual(0.9999);
          expect([row.width, row.height], name).toEqual([width, height]);
        }
      } finally {
        await model.close();
        rmSync(work, { recursive: true, force: true });
      }
      return check;
    });
  });
});
