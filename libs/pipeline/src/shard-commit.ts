/**
 * The commit of a shard: its part file, its errors file (or the removal of one an earlier
 * attempt left), S3 tags, the shard's processed-index contribution, then its stats — the commit
 * point, written last. Every key is derived from the run and the shard, so a retry overwrites.
 */
import { encodeErrorsFile, encodePartFile } from '@siglip-batch/run-format';
import { errorsKey, partKey, rowIdsOf, type PlanFile, type ShardStats } from '@siglip-batch/jobs';
import { writeS3Tags } from './s3-tags/s3-tag-writer';
import { writeShardContribution } from './processed-index/index-contribution';
import type { Outcome, ShardContext, ShardProcessorOptions } from './shard-types';

export async function commitShard(
  ctx: ShardContext,
  plan: PlanFile,
  embeddings: Float32Array,
  outcomes: Array<Outcome | undefined>,
  options: ShardProcessorOptions,
  startedAt: Date,
  timings: Record<string, number>,
): Promise<ShardStats> {
  const { folder } = ctx;
  const scorer = await ctx.scorer;
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
    options.onCommitPoint?.('after-part-put');
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
    await folder.deletePart(plan.shard);
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

  // The shard's entries of the output's processed index, before the stats (the commit point):
  // merged into the index's partitions once the run is finalised (processed-index/index-contribution.ts).
  const outcomeOf = <K extends 'ok' | 'error'>(index: number) => outcomes[index] as Extract<Outcome, { kind: K }>;
  await writeShardContribution(folder, ctx.spec, plan.shard, [
    { file: shardPartKey, status: 'ok', uri: okIndex.map((i) => plan.objects[i]!.uri), etag: okIndex.map((i) => outcomeOf<'ok'>(i).etag) },
    { file: shardErrorsKey, status: 'error', uri: errorIndex.map((i) => plan.objects[i]!.uri), etag: errorIndex.map((i) => outcomeOf<'error'>(i).etag) },
  ]);

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
  options.onCommitPoint?.('after-stats');
  return stats;
}
