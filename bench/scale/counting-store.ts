/**
 * Store requests and bytes written, counted around the output store a measured process is
 * given (the run folder and the output root are opened from it). A listing counts one request
 * per 1,000 keys, as ListObjectsV2 pages would; a Parquet reader's `openBlob` counts one (on
 * S3 it is a HEAD plus a few ranged GETs). Bytes put are split by where they go: the processed
 * index (`_index/`) and everything else.
 */
import type { ObjectStore } from '@siglip-batch/io';

export interface StoreCounts {
  requests: number;
  byMethod: Record<string, number>;
  putBytes: number;
  indexPutBytes: number;
  /** Bytes put per top-level folder of the run or output (`_plan`, `parts`, `_index`, …). */
  putBytesByFolder: Record<string, number>;
}

export function emptyCounts(): StoreCounts {
  return { requests: 0, byMethod: {}, putBytes: 0, indexPutBytes: 0, putBytesByFolder: {} };
}

const COUNTED = new Set(['get', 'getObject', 'getStream', 'openBlob', 'head', 'exists', 'put', 'delete']);

function folderOf(key: string): string {
  const parts = key.split('/');
  const index = parts.indexOf('_index');
  if (index >= 0) return '_index';
  // <size root>/<run>/<folder>/… or <run>/<file>
  return parts.length >= 3 ? parts.at(-2)!.replace(/-\d+$/, '') : parts.at(-1)!.replace(/[-.\d]+.*$/, '') || 'run';
}

export function countingStore(store: ObjectStore, counts: StoreCounts): ObjectStore {
  const add = (method: string, n = 1) => {
    counts.requests += n;
    counts.byMethod[method] = (counts.byMethod[method] ?? 0) + n;
  };
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const name = String(property);
      if (name === 'list') {
        return (prefix: string, options?: Parameters<ObjectStore['list']>[1]) =>
          (async function* () {
            let items = 0;
            try {
              for await (const info of target.list(prefix, options)) {
                items++;
                if (items % 1000 === 1) add('list');
                yield info;
              }
            } finally {
              if (items === 0) add('list');
            }
          })();
      }
      if (name === 'put') {
        return (key: string, body: Uint8Array | NodeJS.ReadableStream, options?: Parameters<ObjectStore['put']>[2]) => {
          add('put');
          if (body instanceof Uint8Array) {
            counts.putBytes += body.byteLength;
            if (key.includes('_index/')) counts.indexPutBytes += body.byteLength;
            const folder = folderOf(key);
            counts.putBytesByFolder[folder] = (counts.putBytesByFolder[folder] ?? 0) + body.byteLength;
            return target.put(key, body, options);
          }
          // A stream: counted as it passes.
          const source = body as AsyncIterable<Uint8Array>;
          const folder = folderOf(key);
          const counted = (async function* () {
            for await (const chunk of source) {
              counts.putBytes += chunk.byteLength;
              if (key.includes('_index/')) counts.indexPutBytes += chunk.byteLength;
              counts.putBytesByFolder[folder] = (counts.putBytesByFolder[folder] ?? 0) + chunk.byteLength;
              yield chunk;
            }
          })();
          return import('node:stream').then(({ Readable }) => target.put(key, Readable.from(counted), options));
        };
      }
      if (COUNTED.has(name)) {
        return (...args: unknown[]) => {
          add(name);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}
