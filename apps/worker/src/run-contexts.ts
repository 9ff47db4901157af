import type { S3Options } from '@siglip-batch/io';
import type { AllowList } from './allow-list';
import { createRunContext, type LoadedModel, type RunRecord, type RunRegistry, type ShardContext } from '@siglip-batch/pipeline';

export interface RunHandle {
  context: ShardContext & { close(): void };
}

/**
 * Per-run state of a worker, built once per run and kept while the run is active: the spec
 * (from Redis), the run folder, what its shards may read (this worker's --allow), and the label
 * scorer whose text embeddings are computed once.
 */
export class RunContexts {
  private readonly runs = new Map<string, Promise<RunHandle>>();
  private readonly lastUsed = new Map<string, number>();

  constructor(
    private readonly registry: RunRegistry,
    private readonly model: LoadedModel,
    private readonly s3: S3Options,
    private readonly allow: AllowList,
    private readonly maxRuns = 16,
  ) {}

  /**
   * The run's context, opened on first use. A caller that has just read the run's record passes
   * it as `known` (`{ record: undefined }` when Redis has none), so that opening does not read it again.
   */
  get(runId: string, known?: { record: RunRecord | undefined }): Promise<RunHandle> {
    this.lastUsed.set(runId, Date.now());
    let handle = this.runs.get(runId);
    if (!handle) {
      handle = this.open(runId, known);
      this.runs.set(runId, handle);
      // A failed open is not cached: the next job tries again.
      handle.catch(() => this.runs.delete(runId));
      this.evict();
    }
    return handle;
  }

  private async open(runId: string, known?: { record: RunRecord | undefined }): Promise<RunHandle> {
    const record = known ? known.record : await this.registry.get(runId);
    if (!record) {
      // Not permanent: the producer may be re-registering the run after Redis lost it.
      throw new Error(`run ${runId} has no record in Redis (expired or not yet registered)`);
    }
    // What the run may read comes from this worker's --allow, never from the spec alone.
    return { context: await createRunContext(record.spec, this.model, this.s3, this.allow.accessFor(record.spec)) };
  }

  private evict(): void {
    if (this.runs.size <= this.maxRuns) return;
    const oldest = [...this.lastUsed.entries()].sort((a, b) => a[1] - b[1])[0];
    if (!oldest) return;
    const [runId] = oldest;
    const handle = this.runs.get(runId);
    this.runs.delete(runId);
    this.lastUsed.delete(runId);
    void handle?.then((h) => h.context.close()).catch(() => undefined);
  }

  closeAll(): void {
    for (const handle of this.runs.values()) void handle.then((h) => h.context.close()).catch(() => undefined);
    this.runs.clear();
  }
}
