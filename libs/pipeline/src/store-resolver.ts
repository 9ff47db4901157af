import { openLocation, parseLocation, type ObjectStore, type S3Options } from '@siglip-batch/io';

/**
 * Maps object URIs of a plan to a store and key, opening one store per bucket (or one for the
 * local filesystem) and reusing it: a shard's objects usually share one bucket and its
 * keep-alive connections.
 */
export class StoreResolver {
  private readonly stores = new Map<string, ObjectStore>();

  constructor(private readonly s3: S3Options = {}) {}

  /** Throws {@link InvalidUriError} for a URI that is not an object of a supported store. */
  resolve(uri: string): { store: ObjectStore; key: string } {
    const location = parseLocation(uri);
    const id = location.kind === 's3' ? `s3://${location.bucket}/` : 'file:///';
    let store = this.stores.get(id);
    if (!store) {
      store = openLocation(id, this.s3).store;
      this.stores.set(id, store);
    }
    const key = store.keyOf(location.uri);
    if (key === undefined || key === '' || key.endsWith('/')) throw new Error(`${uri} does not name an object`);
    return { store, key };
  }

  close(): void {
    for (const store of this.stores.values()) store.close();
    this.stores.clear();
  }
}
