import { hash } from 'node:crypto';
import type { ObjectStore } from '@siglip-batch/io';
import type { PlanFile, ShardStats } from '@siglip-batch/jobs';
import { AsyncQueue, Semaphore } from './async-pool';
import { isImageFailure, type ImageEmbedder } from './embedder';
import { freePixels } from './free-pixels';
import { PermanentShardError, TransientShardError } from './shard-errors';
import { commitShard } from './shard-commit';
import type { Outcome, ShardContext, ShardProcessorOptions } from './shard-types';

export type { ShardContext, ShardProcessorOptions } from './shard-types';

interface Decoded {
  index: number;
  pixels: Float32Array | Uint8Array;
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
  const plan = options.plan ?? (await ctx.folder.readPlan(shard));
  if (!plan) throw new PermanentShardError(`shard ${shard} of run ${ctx.spec.runId} has no plan in the store`);
  if (plan.shard !== shard) throw new PermanentShardError(`the plan given for shard ${shard} of run ${ctx.spec.runId} is shard ${plan.shard}'s`);
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
        sha256: hash('sha256', bytes, 'hex'),
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
    // All checked at once: one after the other (a realpath each for local files) they held
    // back the shard's first fetch by 0.1–0.2 s.
    const decisions = await Promise.all(indices.map((index) => ctx.access.check(plan.objects[index]!.uri)));
    for (const [i, index] of indices.entries()) {
      const object = plan.objects[index]!;
      // Outside what this process may read, or a file named by an S3 manifest: a row, never read.
      const access = decisions[i]!;
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
    const pixels = embedder.pixelFormat === 'resized' ? uninitialisedBytes(part.length * perImage) : uninitialisedFloats(part.length * perImage);
    for (let i = 0; i < part.length; i++) pixels.set(part[i]!.pixels, i * perImage);
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
    // Free each image's pixels now rather than at a garbage collection (see freePixels).
    for (const image of part) freePixels(image.pixels);
    timings.inferMs += inferMs;
    part.forEach((image, i) => embeddings.set(result.subarray(i * dim, (i + 1) * dim), image.index * dim));
    options.onBatch?.({ images: part.length, inferMs });
  };
  await run(images);
}

/**
 * A float32 array of its own buffer (transferable), not zero-filled: every value is written
 * before it is read. Zeroing 19 MB per batch of 32 at 224² was a pass over memory per batch on
 * the shard's thread for nothing.
 */
function uninitialisedFloats(length: number): Float32Array {
  const bytes = Buffer.allocUnsafeSlow(length * Float32Array.BYTES_PER_ELEMENT);
  return new Float32Array(bytes.buffer, bytes.byteOffset, length);
}

/** The same for a batch of resized uint8 images. */
function uninitialisedBytes(length: number): Uint8Array {
  const bytes = Buffer.allocUnsafeSlow(length);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, length);
}

function transientIndices(outcomes: Array<Outcome | undefined>): number[] {
  const indices: number[] = [];
  outcomes.forEach((outcome, index) => {
    if (outcome === undefined || outcome.kind === 'transient') indices.push(index);
  });
  return indices;
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
