import type { ObjectStore } from '@siglip-batch/io';

/**
 * An output's `latest` view (`<out>/_latest/_latest.json`) and what its processed index says is
 * gone: what libs/retrieval's `buildLatestLanceIndex` reads, what libs/pipeline's
 * `openLatestView` opens. Declared here, below both, so that neither imports the other.
 */
export interface LatestView {
  /** The output root holding `_latest/` and `_index/`. */
  output: { store: ObjectStore; prefix: string };
  /** When the view was written. */
  updatedAt: string;
  /** The view's files, keys under `output.prefix`, per model key (`<hash>` or `<hash>+fast-<gap>`). */
  files: ReadonlyArray<{ key: string; modelHash: string; rows: number }>;
  /** The uris whose newest index entry for the model key is not an embedded row, streamed. */
  goneUris(modelKey: string): AsyncIterable<string>;
}
