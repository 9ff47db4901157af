import { mkdir } from 'node:fs/promises';
import { openLocation, parseLocation, type S3Options } from '@siglip-batch/io';
import { sourceKindOf } from './source-kind';

/**
 * Checks at start that a source can be read: the bucket exists and answers (first page of the
 * listing), the directory exists, or the manifest object exists. http(s) and other schemes
 * are refused by {@link parseLocation} with a message that says what is accepted.
 */
export async function checkSourceReadable(source: string, s3: S3Options = {}): Promise<void> {
  const location = parseLocation(source);
  const kind = sourceKindOf(source);
  if (kind === 'manifest-text' || kind === 'manifest-parquet') {
    const parent = location.uri.slice(0, location.uri.lastIndexOf('/') + 1);
    const name = location.uri.slice(parent.length);
    const { store, prefix } = openLocation(parent, s3);
    try {
      if (!(await store.exists(prefix + name))) throw new Error(`manifest ${location.uri} does not exist`);
    } finally {
      store.close();
    }
    return;
  }
  const { store, prefix } = openLocation(source, s3);
  try {
    const iterator = store.list(prefix, { pageSize: 1 })[Symbol.asyncIterator]();
    await iterator.next();
    await iterator.return?.();
  } finally {
    store.close();
  }
}

/** Checks at start that the output root can be written: bucket exists, or directory created. */
export async function checkOutputWritable(output: string, s3: S3Options = {}): Promise<void> {
  const location = parseLocation(output);
  if (location.kind === 'file') {
    await mkdir(location.root, { recursive: true });
    return;
  }
  const { store, prefix } = openLocation(output, s3);
  try {
    const iterator = store.list(prefix, { pageSize: 1 })[Symbol.asyncIterator]();
    await iterator.next();
    await iterator.return?.();
  } finally {
    store.close();
  }
}
