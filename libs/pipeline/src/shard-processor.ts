import { createHash } from 'node:crypto';
import { encodeErrorsFile, encodePartFile, type ObjectStore, type RunFolder } from '@siglip-batch/io';
import { errorsKey, partKey, rowIdsOf, type PlanFile, type RunSpec, type ShardStats } from '@siglip-batch/jobs';
import { AsyncQueue, Semaphore } from './async-pool';
import { isImageFailure, type ImageEmbedder, type LabelScorer } from './embedder';
import { PermanentShardError, TransientShardError } from './shard-errors';
import { writeS3Tags } from './s3-tags/s3-tag-writer';
import type { StoreResolver } from './store-resolver';
import type { SourceAccess } from './source-access';

/** Options of the shard processor, with the defaults the benchmarks justify. */
export interface ShardProcessorOptions {
  /** Objects fetched at once. @defaultValue 16 */
  fetchConcurrency?: number;
  /** Images decoded and preprocessed at once. @defaultValue 4 */
  decodeConcurrency?: number;
  /** Images per inference batch. @defaultValue 32 */
  batchSize?: number;
  /**
   * Share of a shard's objects that may fail transiently and still be retried in place; above
   * it the shard fails at once and is retried later by the queue. @defaultValue 0.1
   */
  maxTransientShare?: number;
  /** In-place retry rounds for transient fetch failures. @defaultValue 3 */
  transientRetries?: number;
  /** Delay before the first in-place retry round; doubles each round. @defaultValue 1000 */
  transientRetryDelayMs?: number;
  /** Who processes the shard (for the stats object). */
  workerId: string;
  /** Attempt number (1 for the first). */
  attempt: number;
  signal?: AbortSignal;
  /** Called after each inference batch (metrics, progress, lock extension). */
  onBatch?(info: { images: number; inferMs: number }): void;
  /** Runs with `writeS3Tags`: objects that could not be tagged (a few examples), for the log. */
  onS3TagFailures?(info: { failed: number; examples: string[] }): void;
}

export interface ShardContext {
  spec: RunSpec;
  folder: RunFolder;
  resolver: StoreResolver;
  /** What may be read: every object passes it before its store is touched (see source-access.ts). */
  access: SourceAccess;
  embedder: ImageEmbedder;
  scorer: LabelScorer | null;
  /** Key-value metadata written into both Parquet files (run, model, labels …). */
  fileMetadata: Record<string, string>;
}

type Outcome =
  | { kind: 'ok'; etag: string; size: number; sha256: string; width: number; height: number }
  | { kind: 'error'; code: string; message: string; etag: string | null; size: number | null }
  | { kind: 'transient'; message: string };

interface Decoded {
  index: number;
  pixels: Float32Array;
}

/**
 * Processes one shard: plan → fetch (bounded) → decode + preprocess → batched inference →
 * scores → part file, errors file, then the stats object that marks the shard done.
 *
 * Permanent per-object faults become error rows. Transient faults are retried in place when
 * they are few; otherwise (or when they persist) the shard throws {@link TransientShardError}
 * and nothing is committed. Outputs are derived from the shard number, so a retry overwrites.
 */
export async function processShard(ctx: ShardContext, shard: number, options: ShardProcessorOptions): Promise<ShardStats> {
  const startedAt = new Date();
  const timings = { fetchMs: 0, decodeMs: 0, inferMs: 0, writeMs: 0 };
  const plan = await ctx.folder.readPlan(shard);
  if (!plan) throw new PermanentShardError(`shard ${shard} of run ${ctx.spec.runId} has no plan in the store`);
  const count = plan.objects.length;
  const dim = ctx.embedder.embedDim;
  const embeddings = new Float32Array(count * dim);
  const outcomes: Array<Outcome | undefined> = new Array(count);

  const pass = (indices: number[]) => runPass(ctx, plan, indices, options, embeddings, outcomes, timings);
  await pass(plan.objects.map((_, index) => index));

  const maxShare = options.maxTransientShare ?? 0.1;
  let delay = options.transientRetryDelayMs ?? 1000;
  for (let round = 0; ; round++) {
    const transient = transientIndices(outcomes);
    if (transient.length === 0) break;
    const first = outcomes[transient[0]!] as { message: string };
    if (transient.length > Math.max(1, Math.floor(count * maxShare)) || round >= (options.transientRetries ?? 3)) {
      throw new TransientShardError(
        `shard ${shard}: ${transient.length} of ${count} objects failed transiently (e.g. ${first.message}); the shard will be retried`,
        transient.length,
      );
    }
    await sleep(delay, options.signal);
    delay *= 2;
    await pass(transient);
  }

  const writeStarted = performance.now();
  const stats = await commitShard(ctx, plan, embeddings, outcomes, options, startedAt, timings);
  timings.writeMs = performance.now() - writeStarted;
  stats.timingsMs = { ...timings };
  return stats;
}

async function runPass(
  ctx: ShardContext,
  plan: PlanFile,
  indices: number[],
  options: ShardProcessorOptions,
  embeddings: Float32Array,
  outcomes: Array<Outcome | undefined>,
  timings: { fetchMs: number; decodeMs: number; inferMs: number },
): Promise<void> {
  const batchSize = Math.max(1, options.batchSize ?? 32);
  const fetchConcurrency = Math.max(1, options.fetchConcurrency ?? 16);
  const decodeConcurrency = Math.max(1, options.decodeConcurrency ?? 4);
  const { maxBytes, maxPixels } = ctx.spec.filters;
  // Objects between "fetch started" and "inferred": bounds memory whatever the shard size.
  const slots = new Semaphore(batchSize * 2 + fetchConcurrency + decodeConcurrency);
  const decodeSlots = new Semaphore(decodeConcurrency);
  const ready = new AsyncQueue<Decoded>();

  const decode = async (index: number, bytes: Buffer, etag: string): Promise<void> => {
    await decodeSlots.acquire();
    const decodeStarted = performance.now();
    try {
      const image = await ctx.embedder.preprocess(bytes, { maxPixels, ...(ctx.spec.decode ? { decode: ctx.spec.decode } : {}) });
      if (isImageFailure(image)) {
        outcomes[index] = { kind: 'error', code: image.code, message: image.message, etag, size: bytes.length };
        slots.release();
        return;
      }
      outcomes[index] = {
        kind: 'ok',
        etag,
        size: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        width: image.width,
        height: image.height,
      };
      ready.push({ index, pixels: image.pixels });
    } catch (error) {
      // Every failure of the image itself, expected or not, comes back as a value (a row). A
      // throw means the preprocessing itself is unavailable (its pool closed or out of
      // threads): not this object's fault, so it is not committed and the shard is retried.
      outcomes[index] = { kind: 'transient', message: `preprocessing unavailable: ${(error as Error).message}` };
      slots.release();
    } finally {
      timings.decodeMs += performance.now() - decodeStarted;
      decodeSlots.release();
    }
  };

  const produce = async (): Promise<void> => {
    // Objects of one plan usually share a store; a manifest may mix buckets.
    const groups = new Map<ObjectStore, Array<{ key: string; index: number }>>();
    for (const index of indices) {
      const object = plan.objects[index]!;
      // Outside what this process may read, or a file named by an S3 manifest: a row, never read.
      const access = await ctx.access.check(object.uri);
      if (!access.ok) {
        outcomes[index] = { kind: 'error', code: access.code, message: access.message, etag: object.etag, size: object.size };
        continue;
      }
      let resolved: { store: ObjectStore; key: string };
      try {
        resolved = ctx.resolver.resolve(access.readUri);
      } catch (error) {
        // A manifest line that is no object URI is bad input: a row of its own.
        outcomes[index] = { kind: 'error', code: 'invalid_uri', message: (error as Error).message, etag: object.etag, size: object.size };
        continue;
      }
      const { store, key } = resolved;
      let group = groups.get(store);
      if (!group) groups.set(store, (group = []));
      group.push({ key, index });
    }
    const decoding = new Set<Promise<void>>();
    for (const [store, items] of groups) {
      const gated = (async function* () {
        for (const item of items) {
          await slots.acquire();
          yield item;
        }
      })();
      const fetchStarted = performance.now();
      for await (const result of store.getMany(gated, {
        concurrency: fetchConcurrency,
        maxBytes,
        ...(options.signal ? { signal: options.signal } : {}),
      })) {
        const { index } = result.item;
        const object = plan.objects[index]!;
        if (!result.ok) {
          outcomes[index] = result.transient
            ? { kind: 'transient', message: `${object.uri}: ${result.message}` }
            : { kind: 'error', code: result.code, message: result.message, etag: object.etag, size: object.size };
          slots.release();
          continue;
        }
        const task = decode(index, result.bytes, result.etag);
        decoding.add(task);
        void task.then(() => decoding.delete(task));
      }
      timings.fetchMs += performance.now() - fetchStarted;
    }
    await Promise.all(decoding);
  };

  const consume = async (): Promise<void> => {
    let batch: Decoded[] = [];
    const flush = async () => {
      const images = batch;
      batch = [];
      await inferBatch(ctx.embedder, images, embeddings, timings, options);
      for (let i = 0; i < images.length; i++) slots.release();
    };
    for await (const item of ready) {
      batch.push(item);
      if (batch.length >= batchSize) await flush();
    }
    if (batch.length > 0) await flush();
  };

  const consumer = consume().catch((error: unknown) => {
    // Unblock the producers: nothing more will be inferred in this pass.
    slots.cancel(error);
    throw error;
  });
  // Handled below once produce() returns; without this, a batch that fails while produce() is
  // still awaiting is an unhandled rejection, and Node ends the whole worker process.
  consumer.catch(() => undefined);
  try {
    await produce();
    ready.end();
  } catch (error) {
    ready.fail(error);
    await consumer.catch(() => undefined);
    throw error;
  }
  await consumer;
}

async function inferBatch(
  embedder: ImageEmbedder,
  images: Decoded[],
  embeddings: Float32Array,
  timings: { inferMs: number },
  options: ShardProcessorOptions,
): Promise<void> {
  const perImage = embedder.pixelsPerImage;
  const dim = embedder.embedDim;
  const run = async (part: Decoded[]): Promise<void> => {
    const pixels = new Float32Array(part.length * perImage);
    part.forEach((image, i) => pixels.set(image.pixels, i * perImage));
    const started = performance.now();
    let result: Float32Array;
    try {
      result = await embedder.embedImages(pixels, part.length);
    } catch (error) {
      // Not enough memory for this batch: split it and retry the halves.
      if (embedder.isOutOfMemory(error) && part.length > 1) {
        const half = Math.ceil(part.length / 2);
        await run(part.slice(0, half));
        await run(part.slice(half));
        return;
      }
      if (embedder.isOutOfMemory(error)) throw error;
      // Any other inference error is the model's (a broken or mismatched file, a bad graph):
      // it fails the same way on every retry, so the shard is unrecoverable, named.
      throw new PermanentShardError(`inference failed: ${(error as Error).message}`);
    }
    const inferMs = performance.now() - started;
    timings.inferMs += inferMs;
    part.forEach((image, i) => embeddings.set(result.subarray(i * dim, (i + 1) * dim), image.index * dim));
    options.onBatch?.({ images: part.length, inferMs });
  };
  await run(images);
}

function transientIndices(outcomes: Array<Outcome | undefined>): number[] {
  const indices: number[] = [];
  outcomes.forEach((outcome, index) => {
    if (outcome === undefined || outcome.kind === 'transient') indices.push(index);
  });
  return indices;
}

async function commitShard(
  ctx: ShardContext,
  plan: PlanFile,
  embeddings: Float32Array,
  outcomes: Array<Outcome | undefined>,
  options: ShardProcessorOptions,
  startedAt: Date,
  timings: Record<string, number>,
): Promise<ShardStats> {
  const { folder, scorer } = ctx;
  const dim = ctx.embedder.embedDim;
  const okIndex: number[] = [];
  const errorIndex: number[] = [];
  outcomes.forEach((outcome, index) => (outcome!.kind === 'ok' ? okIndex : errorIndex).push(index));
  const errorCodes: Record<string, number> = {};
  const extraOf = (index: number) => plan.objects[index]!.extra ?? [];
  const hasExtra = plan.extraColumns.length > 0;

  let part: ShardStats['part'] = null;
  let s3Tags: ShardStats['s3Tags'];
  const shardPartKey = partKey(plan.shard);
  if (okIndex.length > 0) {
    const okEmbeddings = new Float32Array(okIndex.length * dim);
    okIndex.forEach((index, row) => okEmbeddings.set(embeddings.subarray(index * dim, (index + 1) * dim), row * dim));
    const oks = okIndex.map((index) => outcomes[index] as Extract<Outcome, { kind: 'ok' }>);
    let scores: Float32Array | undefined;
    let tags: string[][] | undefined;
    if (scorer) {
      scores = scorer.score(okEmbeddings, okIndex.length);
      tags = okIndex.map((_, row) => scorer.tags(scores!, row));
    }
    const bytes = encodePartFile({
      rowId: rowIdsOf(plan.runId, plan.shard, okIndex),
      uri: okIndex.map((index) => plan.objects[index]!.uri),
      etag: oks.map((ok) => ok.etag),
      sizeBytes: oks.map((ok) => ok.size),
      sha256: oks.map((ok) => ok.sha256),
      width: oks.map((ok) => ok.width),
      height: oks.map((ok) => ok.height),
      embedding: okEmbeddings,
      dim,
      ...(ctx.spec.embeddingDtype ? { embeddingDtype: ctx.spec.embeddingDtype } : {}),
      ...(scorer && scores && tags ? { scores, labels: scorer.labels, tags } : {}),
      ...(hasExtra ? { extra: { columns: plan.extraColumns, values: okIndex.map(extraOf) } } : {}),
      metadata: ctx.fileMetadata,
    });
    await folder.writePart(plan.shard, bytes, options.signal ? { signal: options.signal } : {});
    testOnlyCrashAt('after-part-put');
    part = { key: shardPartKey, rows: okIndex.length };
    if (ctx.spec.writeS3Tags && scorer && scores && tags) {
      // After the part file, so that tags never name rows that are not committed; before the
      // stats, so that a retry (which rewrites the same tags) is the only way to miss them.
      const labelIndex = new Map(scorer.labels.map((label, i) => [label, i]));
      const labelCount = scorer.labels.length;
      const rows = okIndex.map((index, row) => ({
        uri: plan.objects[index]!.uri,
        labels: tags![row]!.map((label) => ({ label, score: scores![row * labelCount + labelIndex.get(label)!]! })),
      }));
      const { failures, ...counts } = await writeS3Tags(ctx.resolver, rows, options.signal ? { signal: options.signal } : {});
      s3Tags = counts;
      if (counts.failed > 0) options.onS3TagFailures?.({ failed: counts.failed, examples: failures });
    }
  } else {
    // An earlier attempt may have embedded objects that are gone now.
    await folder.store.delete(folder.keyOf(shardPartKey));
  }

  let errors: ShardStats['errors'] = null;
  const shardErrorsKey = errorsKey(plan.shard);
  if (errorIndex.length > 0) {
    const rows = errorIndex.map((index) => outcomes[index] as Extract<Outcome, { kind: 'error' }>);
    for (const row of rows) errorCodes[row.code] = (errorCodes[row.code] ?? 0) + 1;
    const bytes = encodeErrorsFile({
      rowId: rowIdsOf(plan.runId, plan.shard, errorIndex),
      uri: errorIndex.map((index) => plan.objects[index]!.uri),
      etag: rows.map((row) => row.etag),
      sizeBytes: rows.map((row) => row.size),
      errorCode: rows.map((row) => row.code),
      error: rows.map((row) => row.message),
      ...(hasExtra ? { extra: { columns: plan.extraColumns, values: errorIndex.map(extraOf) } } : {}),
      metadata: ctx.fileMetadata,
    });
    await folder.writeErrors(plan.shard, bytes, options.signal ? { signal: options.signal } : {});
    errors = { key: shardErrorsKey, rows: errorIndex.length };
  } else {
    // An earlier attempt may have left one (e.g. objects that were missing then).
    await folder.deleteErrors(plan.shard);
  }

  const stats: ShardStats = {
    schemaVersion: 1,
    runId: plan.runId,
    shard: plan.shard,
    planned: plan.objects.length,
    ok: okIndex.length,
    error: errorIndex.length,
    errorCodes,
    part,
    errors,
    attempt: options.attempt,
    worker: options.workerId,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    timingsMs: timings,
    ...(s3Tags ? { s3Tags } : {}),
  };
  await folder.writeStats(stats);
  testOnlyCrashAt('after-stats');
  return stats;
}

/**
 * Test-only: `SIGLIP_BATCH_TEST_CRASH_AT=after-part-put|after-stats` SIGKILLs the process at
 * that point of the commit, for the fault suite's "crash after the Parquet PUT / before the
 * job completes" (test/fault-crash.test.ts). Unset in production.
 */
function testOnlyCrashAt(point: 'after-part-put' | 'after-stats'): void {
  if (process.env['SIGLIP_BATCH_TEST_CRASH_AT'] === point) process.kill(process.pid, 'SIGKILL');
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
