/**
 * A Parquet manifest source: a `uri` column plus extra columns that pass through to a run's
 * output rows (`readManifestSource` reads it back).
 */
import { boolColumn, encodeTable, float64Column, int64Column, tableOf, utf8Column, type Column } from '@siglip-batch/io';
import type { ExtraColumn, ExtraValue } from '@siglip-batch/jobs';

export interface ManifestFileInput {
  uri: readonly string[];
  extra?: { columns: readonly ExtraColumn[]; values: readonly (readonly ExtraValue[])[] };
  metadata?: Readonly<Record<string, string>>;
}

export function encodeManifestParquet(input: ManifestFileInput): Uint8Array {
  const columns: Column[] = [utf8Column('uri', input.uri, false)];
  for (const [index, column] of (input.extra?.columns ?? []).entries()) {
    const cells = (input.extra?.values ?? []).map((row) => row[index] ?? null);
    if (cells.length !== input.uri.length) throw new RangeError(`column ${column.name} has ${cells.length} values for ${input.uri.length} rows`);
    if (column.type === 'string') columns.push(utf8Column(column.name, cells.map((v) => (v === null ? null : String(v))), true));
    else if (column.type === 'int64') columns.push(int64Column(column.name, cells as Array<string | number | null>, true));
    else if (column.type === 'float64') columns.push(float64Column(column.name, cells as Array<number | null>, true));
    else columns.push(boolColumn(column.name, cells as Array<boolean | null>, true));
  }
  const metadata = new Map(Object.entries(input.metadata ?? {}));
  return encodeTable(tableOf(columns, metadata), { metadata });
}
