/**
 * An output's `latest` view (libs/run-format's `LatestView`) as libs/retrieval's
 * `buildLatestLanceIndex` reads it: the `_latest/_latest.json` pointer (written by `writeLatest`)
 * and, streamed from the processed index, the objects that are no longer embedded.
 */
import type { ObjectStore } from '@siglip-batch/io';
import type { LatestView } from '@siglip-batch/run-format';
import { readLatestPointer } from './processed-index/latest-writer';
import { ProcessedIndex } from './processed-index/processed-index';

export async function openLatestView(output: { store: ObjectStore; prefix: string }): Promise<LatestView> {
  const pointer = await readLatestPointer(output);
  const where = output.store.uriOf(output.prefix);
  if (!pointer) throw new Error(`${where} has no _latest/_latest.json: run \`siglip-batch latest --out ${where}\` first`);
  return {
    output,
    updatedAt: pointer.updatedAt,
    files: pointer.files,
    async *goneUris(modelKey: string) {
      for await (const entry of new ProcessedIndex(output).entries()) {
        if (entry.modelHash === modelKey && entry.status !== 'ok') yield entry.uri;
      }
    },
  };
}
