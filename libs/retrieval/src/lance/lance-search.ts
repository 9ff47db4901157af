/**
 * `search` through a run's LanceDB table (built by `siglip-batch index`): the ANN index with the
 * search parameters `_index.json` records (or the caller's), scores as cosine similarities.
 * Only the query's partitions and candidates are read, so memory stays at LanceDB's caches,
 * whatever the table's size.
 */
import type * as lancedbTypes from '@lancedb/lancedb';
import type { SearchHit } from '../embedding-scan';
import { readLanceInfo, type LanceInfo } from './lance-info';
import { loadLanceDb } from './lance-build';
import { LANCE_TABLE, type LanceTarget } from './lance-target';

export interface LanceSearchParams {
  nprobes?: number;
  refineFactor?: number;
  ef?: number;
  /** Scan every vector exactly (no ANN index). */
  exact?: boolean;
}

export interface LanceSearchHit extends SearchHit {
  rowId: bigint;
}

export class LanceSearcher {
  private constructor(
    readonly info: LanceInfo,
    private readonly db: lancedbTypes.Connection,
    private readonly table: lancedbTypes.Table,
  ) {}

  /** The table at `target`, or undefined when it holds none built by `siglip-batch index`. */
  static async open(target: LanceTarget): Promise<LanceSearcher | undefined> {
    const info = await readLanceInfo(target);
    if (!info) return undefined;
    const lancedb = await loadLanceDb();
    const db = await lancedb.connect(target.uri, { storageOptions: target.storageOptions });
    try {
      return new LanceSearcher(info, db, await db.openTable(info.table || LANCE_TABLE));
    } catch (error) {
      db.close();
      throw error;
    }
  }

  async search(query: Float32Array, k: number, params: LanceSearchParams = {}): Promise<LanceSearchHit[]> {
    if (query.length !== this.info.embeddingDim) throw new Error(`the query has ${query.length} dimensions, the table ${this.info.embeddingDim}`);
    const defaults = this.info.index.search;
    let search = this.table.vectorSearch(query).column('embedding').distanceType('cosine').select(['uri', 'row_id', '_distance']).limit(k);
    if (params.exact || this.info.index.type === 'none') search = search.bypassVectorIndex();
    else {
      const nprobes = params.nprobes ?? defaults.nprobes;
      const refineFactor = params.refineFactor ?? defaults.refineFactor;
      const ef = params.ef ?? defaults.ef;
      if (nprobes) search = search.nprobes(nprobes);
      if (refineFactor) search = search.refineFactor(refineFactor);
      if (ef) search = search.ef(ef);
    }
    const rows = (await search.toArray()) as Array<{ uri: string; row_id: bigint | number; _distance: number }>;
    return rows.map((row) => ({ uri: row.uri, score: 1 - row._distance, rowId: BigInt(row.row_id) }));
  }

  close(): void {
    this.table.close();
    this.db.close();
  }
}
