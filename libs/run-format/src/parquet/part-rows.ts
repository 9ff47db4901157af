/**
 * A part file read back into the columnar input of `encodePartFile` (the embedding as one
 * Float32Array, float16 files cast on read), for tools that rewrite parts without touching an
 * image: retag, latest. `rowId` and `embeddingDtype` come back as the file has them, so a
 * rewrite keeps both.
 */
import {
  Arrow,
  METADATA_KEYS,
  readParquetBatches,
  readParquetMetadata,
  vectorDtypeOf,
  vectorFloats,
  type ParquetSource,
} from '@siglip-batch/io';
import type { ExtraColumnsInput, PartFileInput } from './parquet-shard-writer';
import { extraColumnSchema, type ExtraValue } from '@siglip-batch/jobs';

export interface PartRows extends Omit<PartFileInput, 'metadata' | 'extra'> {
  extra: ExtraColumnsInput;
  /** The file's key-value metadata. */
  metadata: Record<string, string>;
}

function cell(value: unknown): ExtraValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return String(value);
}

/** Reads a whole part file (parts are shard-sized) column by column, scores and tags included. */
export async function readPartRows(source: () => Promise<ParquetSource>, options: { withTags?: boolean } = {}): Promise<PartRows> {
  const meta = await readParquetMetadata(await source());
  const extraColumns = extraColumnSchema.array().parse(JSON.parse(meta.keyValueMetadata[METADATA_KEYS.extraColumns] ?? '[]'));
  const dim = Number(meta.keyValueMetadata[METADATA_KEYS.embeddingDim]);
  const embeddingField = meta.schema.fields.find((field) => field.name === 'embedding');
  const embeddingDtype = embeddingField && vectorDtypeOf(embeddingField);
  if (!embeddingField || !embeddingDtype || !Arrow.DataType.isFixedSizeList(embeddingField.type) || embeddingField.type.listSize !== dim) {
    throw new Error('not a part file: no embedding FixedSizeList column of the dimension its metadata gives');
  }
  const hasRowIds = meta.schema.fields.some((field) => field.name === 'row_id');
  const rows: PartRows = {
    uri: [],
    etag: [],
    sizeBytes: [],
    sha256: [],
    width: [],
    height: [],
    embedding: new Float32Array(meta.numRows * dim),
    dim,
    embeddingDtype,
    ...(hasRowIds ? { rowId: new BigInt64Array(meta.numRows) } : {}),
    extra: { columns: extraColumns, values: [] },
    metadata: meta.keyValueMetadata,
  };
  const uri = rows.uri as string[];
  const etag = rows.etag as (string | null)[];
  const sizeBytes = rows.sizeBytes as number[];
  const sha256 = rows.sha256 as string[];
  const width = rows.width as number[];
  const height = rows.height as number[];
  const extra = rows.extra.values as ExtraValue[][];
  const hasTags = options.withTags === true && meta.schema.fields.some((field) => field.name === 'tags');
  const tags: string[][] = [];
  if (hasTags) rows.tags = tags;
  let row = 0;
  for await (const batch of readParquetBatches(await source(), { batchSize: 4096 })) {
    const column = (name: string) => batch.getChild(name);
    const get = (name: string, i: number): unknown => column(name)?.get(i) ?? null;
    if (rows.rowId) {
      const ids = rows.rowId as BigInt64Array;
      const column = batch.getChild('row_id')!;
      for (let i = 0; i < batch.numRows; i++) ids[row + i] = column.get(i) as bigint;
    }
    for (let i = 0; i < batch.numRows; i++) {
      uri.push(get('uri', i) as string);
      etag.push(get('etag', i) as string | null);
      const size = get('size_bytes', i);
      sizeBytes.push(size === null ? 0 : Number(size));
      sha256.push(get('sha256', i) as string);
      width.push(get('width', i) as number);
      height.push(get('height', i) as number);
      extra.push(extraColumns.map((c) => cell(get(c.name, i))));
      if (hasTags) {
        const list = get('tags', i) as { toArray(): string[] } | null;
        tags.push(list ? [...list.toArray()] : []);
      }
    }
    for (const data of column('embedding')!.data) {
      rows.embedding.set(vectorFloats(data, dim), row * dim);
      row += data.length;
    }
  }
  if (row !== meta.numRows) throw new Error(`read ${row} rows, the file says ${meta.numRows}`);
  return rows;
}
