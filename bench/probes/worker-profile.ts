/**
 * Where the worker's time goes on the tiny model: the shard processor's own timings, the moto
 * fetch rate alone, and (with `node --cpu-prof`) a CPU profile of the main thread.
 *
 *   npx tsx bench/probes/worker-profile.ts [preprocess threads] [batch size] [model dir] [photos]
 * (preprocess threads 0 = on the main thread, as before the pool)
 *   node --cpu-prof --cpu-prof-dir bench/out/prof --import tsx bench/probes/worker-profile.ts
 */
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createS3Client, S3ObjectStore } from '@siglip-batch/io';
import { buildRunSpec, createRunContext, loadSiglipModel, planRun, processShard } from '@siglip-batch/pipeline';
import { startMotoServer } from '../../test/support/moto-server';
import { makePhotoSet } from '../photo-set';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PHOTOS = join(ROOT, 'bench/out/photos');
process.env['AWS_ACCESS_KEY_ID'] ??= 'bench';
process.env['AWS_SECRET_ACCESS_KEY'] ??= 'bench';
const threads = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
const batchSize = Number(process.argv[3] ?? 32);
const modelDir = process.argv[4] ?? join(ROOT, 'fixtures/models/tiny-siglip');
const limit = Number(process.argv[5] ?? 320);

await makePhotoSet(join(ROOT, 'fixtures/images'), PHOTOS, 320);
const names = readdirSync(PHOTOS).sort().slice(0, limit);
const moto = await startMotoServer();
const client = createS3Client({ endpoint: moto.endpoint });
await client.send(new CreateBucketCommand({ Bucket: 'bench' }));
for (let i = 0; i < names.length; i += 16) {
  await Promise.all(names.slice(i, i + 16).map((n) => client.send(new PutObjectCommand({ Bucket: 'bench', Key: `photos/${n}`, Body: readFileSync(join(PHOTOS, n)) }))));
}
const store = new S3ObjectStore({ client, bucket: 'bench' });
let t0 = performance.now();
let fetched = 0;
for await (const r of store.getMany(names.map((n) => ({ key: `photos/${n}` })), { concurrency: 16, maxBytes: 1 << 30 })) if (r.ok) fetched++;
console.log(`moto fetch alone: ${(fetched / ((performance.now() - t0) / 1000)).toFixed(1)} objects/s`);

const model = await loadSiglipModel(modelDir, { device: 'cpu', variant: 'fp32', ...(threads === undefined ? {} : { preprocessThreads: threads }) });
const spec = buildRunSpec({ runId: 'profile', source: 's3://bench/photos/', output: 's3://bench/runs/', model: model.ref, labels: [{ label: 'cat', prompts: [], threshold: 0.1 }] });
const context = await createRunContext(spec, model, { endpoint: moto.endpoint });
await context.folder.writeRunSpec(spec);
await planRun({ folder: context.folder, spec, s3: { endpoint: moto.endpoint }, onShard: async () => undefined });
for (let rep = 0; rep < (limit < 320 ? 1 : 3); rep++) {
  t0 = performance.now();
  const stats = await processShard(context, 0, { batchSize, workerId: 'profile', attempt: 1 });
  const seconds = (performance.now() - t0) / 1000;
  console.log(`worker e2e (processShard): ${(stats.ok / seconds).toFixed(2)} img/s; shard timings ${JSON.stringify(stats.timingsMs)}`);
}
context.close();
await model.close();
await moto.stop();
client.destroy();
