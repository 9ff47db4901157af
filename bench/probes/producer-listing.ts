/**
 * The producer's listing + planning (`planRun`: list the S3 prefix, freeze each shard's object
 * list in the output store) against raw ListObjectsV2 paging of the same endpoint, for
 * `bench/run-all.ts`. Run with --expose-gc: RSS is sampled after a GC when 10,000 objects are
 * planned, at 100,000 and at the end (heapUsed too). Prints one JSON line.
 *
 *   node --expose-gc --import tsx bench/probes/producer-listing.ts <endpoint> <raw|producer> <out dir>
 */
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { rmSync } from 'node:fs';
import { createS3Client } from '@siglip-batch/io';
import { buildRunSpec, planRun } from '@siglip-batch/pipeline';
import { openRunFolder } from '@siglip-batch/run-format';

const [endpoint, mode, outDir] = process.argv.slice(2) as [string, 'raw' | 'producer', string];
process.env['AWS_ACCESS_KEY_ID'] ??= 'bench';
process.env['AWS_SECRET_ACCESS_KEY'] ??= 'bench';
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const rss = () => {
  gc();
  return process.memoryUsage().rss;
};

const started = performance.now();
let objects = 0;
let rssAt10k = 0;
let rssAt100k = 0;
let heapAt10k = 0;
let heapAt100k = 0;
const sample = (count: number) => {
  if (!rssAt10k && count >= 10_000) {
    rssAt10k = rss();
    heapAt10k = process.memoryUsage().heapUsed;
  }
  if (!rssAt100k && count >= 100_000) {
    rssAt100k = rss();
    heapAt100k = process.memoryUsage().heapUsed;
  }
};
if (mode === 'raw') {
  const client = createS3Client({ endpoint });
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: 'bench', Prefix: 'photos/', ContinuationToken: token }));
    objects += page.Contents?.length ?? 0;
    sample(objects);
    token = page.NextContinuationToken;
  } while (token);
  client.destroy();
} else {
  rmSync(outDir, { recursive: true, force: true });
  const spec = buildRunSpec({
    runId: 'bench-producer',
    source: 's3://bench/photos/',
    output: outDir,
    model: { hash: '0'.repeat(64), variant: 'fp32', checkpoint: 'bench', embedDim: 32, textLength: 16, imageSize: { height: 224, width: 224 } },
    labels: null,
  });
  const folder = openRunFolder(spec, { endpoint });
  const result = await planRun({
    folder,
    spec,
    s3: { endpoint },
    onShard: async () => undefined,
    onProgress: (progress) => {
      sample(progress.objectsPlanned);
    },
  });
  objects = result.objectsPlanned;
}
const seconds = (performance.now() - started) / 1000;
const rssEnd = rss();
console.log(JSON.stringify({ mode, objects, rate: objects / seconds, rssAt10k, rssAt100k, rssEnd, heapAt10k, heapAt100k, heapEnd: process.memoryUsage().heapUsed }));
