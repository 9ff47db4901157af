/**
 * The synthetic shard completer: every planned shard goes through the worker's own
 * `processShard` (plan read → fetch → preprocess → batched inference → part file, errors file,
 * stats: the commit path, with whatever it writes besides, such as index contributions), with
 * a store that hands back 16 bytes per object and the object's listed ETag instantly, and a
 * model of 4-d embeddings computed from the bytes. 1 % of objects fail to "decode", so every
 * shard has an errors file too. Each shard is then marked done in Redis as the worker does.
 */
import type { FetchResult, GetManyOptions, ObjectStore } from '@siglip-batch/io';
import type { RunFolder } from '@siglip-batch/run-format';
import type { RunSpec, ShardStats } from '@siglip-batch/jobs';
import {
  RunRegistry,
  plannedShardRanges,
  processShard,
  type ImageEmbedder,
  type ShardContext,
  type SourceAccess,
  type StoreResolver,
} from '@siglip-batch/pipeline';
import type { Redis } from 'ioredis';
import { etagOfIndex, indexOfKey, sizeOfIndex } from './synthetic-keys';

const DIM = 4;

/** Fetches answered from the key alone: no store behind it, no latency. */
function syntheticSource(): ObjectStore {
  const store: Partial<ObjectStore> = {
    kind: 's3',
    async *getMany<T extends { key: string }>(items: Iterable<T> | AsyncIterable<T>, _options: GetManyOptions): AsyncIterable<FetchResult<T>> {
      for await (const item of items) {
        const i = indexOfKey(item.key);
        if (i < 0) {
          yield { item, ok: false, code: 'not_found', transient: false, message: `${item.key}: not a synthetic object` };
          continue;
        }
        const etag = etagOfIndex(i);
        yield { item, ok: true, bytes: Buffer.from(`${etag.slice(0, 15)}${i % 100 === 7 ? '!' : '.'}`), etag, size: sizeOfIndex(i) };
      }
    },
    close: () => undefined,
  };
  return store as ObjectStore;
}

/** A model of 1×1 "images" and 4-d unit embeddings. */
export const syntheticEmbedder: ImageEmbedder = {
  embedDim: DIM,
  pixelsPerImage: 3,
  async preprocess(bytes) {
    if (bytes[bytes.length - 1] === 0x21) return { code: 'decode_failed', message: 'synthetic: this object does not decode' };
    return { pixels: new Float32Array([bytes[0]! / 255, bytes[1]! / 255, bytes[2]! / 255]), width: 1, height: 1 };
  },
  async embedImages(pixels, count) {
    const out = new Float32Array(count * DIM);
    for (let i = 0; i < count; i++) {
      const [r, g, b] = [pixels[i * 3]!, pixels[i * 3 + 1]!, pixels[i * 3 + 2]!];
      const v = [r + 0.1, g + 0.1, b + 0.1, 0.5];
      const norm = Math.hypot(...v);
      for (let d = 0; d < DIM; d++) out[i * DIM + d] = v[d]! / norm;
    }
    return out;
  },
  isOutOfMemory: () => false,
};

export interface CompleteOptions {
  spec: RunSpec;
  folder: RunFolder;
  redis: Redis;
  prefix: string;
  /** Shards committed at once. */
  concurrency: number;
}

/** Completes every planned shard that has no stats yet; returns the number of shards completed. */
export async function completeRun(options: CompleteOptions): Promise<{ shards: number; ok: number; error: number }> {
  const { spec, folder } = options;
  const source = syntheticSource();
  const resolver = {
    resolve(uri: string) {
      const match = /^s3:\/\/[^/]+\/(.+)$/.exec(uri);
      if (!match) throw new Error(`${uri} is not an S3 object`);
      return { store: source, key: match[1]! };
    },
    close: () => undefined,
  } as unknown as StoreResolver;
  const access = { check: async (uri: string) => ({ ok: true as const, readUri: uri }), describe: () => 'everything (scale bench)' } as unknown as SourceAccess;
  const ctx: ShardContext = { spec, folder, resolver, access, embedder: syntheticEmbedder, scorer: null, fileMetadata: { run: spec.runId } };
  const registry = new RunRegistry(options.redis, options.prefix);
  const listing = await folder.readListing();
  if (!listing) throw new Error(`run ${spec.runId} has no listing state`);
  const totals = { shards: 0, ok: 0, error: 0 };
  const ranges = plannedShardRanges(folder, listing)[Symbol.asyncIterator]();
  let range: { first: number; count: number } | undefined;
  let offset = 0;
  // Shards handed out one at a time from the streamed ranges: nothing grows with the run.
  const nextShard = async (): Promise<number | undefined> => {
    for (;;) {
      if (range && offset < range.count) return range.first + offset++;
      const step = await ranges.next();
      if (step.done) return undefined;
      range = step.value;
      offset = 0;
    }
  };
  let pending: Promise<number | undefined> = Promise.resolve(undefined);
  const take = () => (pending = pending.then(nextShard));
  const lanes = Array.from({ length: options.concurrency }, async () => {
    for (let shard = await take(); shard !== undefined; shard = await take()) {
      if (await folder.readStats(shard)) continue;
      const stats: ShardStats = await processShard(ctx, shard, { workerId: 'scale-bench', attempt: 1, batchSize: 256 });
      await registry.markShardDone(stats);
      totals.shards++;
      totals.ok += stats.ok;
      totals.error += stats.error;
    }
  });
  await Promise.all(lanes);
  return totals;
}
