/**
 * Arrow columns built straight from columnar inputs (typed arrays, string arrays), without
 * Arrow's row-wise builders: a 10,000 × 1,152 embedding block becomes a FixedSizeList over the
 * caller's Float32Array with no copy.
 */
import type * as arrow from 'apache-arrow';
import { Arrow } from '../lazy-arrow';
import { float32ToFloat16Bits } from './float16';

export interface Column {
  field: arrow.Field;
  data: arrow.Data;
}

/** Validity bitmap (bit set = valid) and null count; no bitmap when nothing is null. */
function validity(length: number, isNull: (i: number) => boolean): { nullBitmap?: Uint8Array; nullCount: number } {
  let bitmap: Uint8Array | undefined;
  let nullCount = 0;
  for (let i = 0; i < length; i++) {
    if (!isNull(i)) continue;
    if (!bitmap) bitmap = new Uint8Array((length + 7) >> 3).fill(0xff);
    bitmap[i >> 3]! &= ~(1 << (i & 7));
    nullCount++;
  }
  return bitmap ? { nullBitmap: bitmap, nullCount } : { nullCount: 0 };
}

function refuseNulls(name: string, nullCount: number): void {
  if (nullCount > 0) throw new TypeError(`column "${name}" is not nullable but has ${nullCount} null value(s)`);
}

export function utf8Data(values: ArrayLike<string | null | undefined>): arrow.Data<arrow.Utf8> {
  const length = values.length;
  let total = 0;
  for (let i = 0; i < length; i++) {
    const value = values[i];
    if (value != null) total += Buffer.byteLength(value, 'utf8');
  }
  const bytes = Buffer.allocUnsafe(total);
  const offsets = new Int32Array(length + 1);
  let position = 0;
  for (let i = 0; i < length; i++) {
    offsets[i] = position;
    const value = values[i];
    if (value != null) position += bytes.write(value, position, 'utf8');
  }
  offsets[length] = position;
  const { nullBitmap, nullCount } = validity(length, (i) => values[i] == null);
  return Arrow.makeData({ type: new Arrow.Utf8(), length, nullCount, nullBitmap, valueOffsets: offsets, data: bytes });
}

export function utf8Column(name: string, values: ArrayLike<string | null | undefined>, nullable: boolean): Column {
  const data = utf8Data(values);
  if (!nullable) refuseNulls(name, data.nullCount);
  return { field: new Arrow.Field(name, new Arrow.Utf8(), nullable), data };
}

export function int32Column(name: string, values: ArrayLike<number | null | undefined>, nullable: boolean): Column {
  const length = values.length;
  const data = new Int32Array(length);
  for (let i = 0; i < length; i++) data[i] = values[i] ?? 0;
  const { nullBitmap, nullCount } = validity(length, (i) => values[i] == null);
  if (!nullable) refuseNulls(name, nullCount);
  return {
    field: new Arrow.Field(name, new Arrow.Int32(), nullable),
    data: Arrow.makeData({ type: new Arrow.Int32(), length, nullCount, nullBitmap, data }),
  };
}

/** int64 from numbers (safe integers), bigints or JSON decimal strings (exact beyond 2^53). */
export function int64Column(name: string, values: ArrayLike<number | bigint | string | null | undefined>, nullable: boolean): Column {
  const length = values.length;
  const data = new BigInt64Array(length);
  for (let i = 0; i < length; i++) {
    const value = values[i];
    if (value == null) continue;
    if (typeof value === 'number' && !Number.isSafeInteger(value)) {
      throw new TypeError(`column "${name}" row ${i}: ${value} is not an integer (int64 values beyond 2^53 go as decimal strings)`);
    }
    try {
      data[i] = BigInt(value);
    } catch {
      throw new TypeError(`column "${name}" row ${i}: ${JSON.stringify(value)} is not an int64`);
    }
  }
  const { nullBitmap, nullCount } = validity(length, (i) => values[i] == null);
  if (!nullable) refuseNulls(name, nullCount);
  return {
    field: new Arrow.Field(name, new Arrow.Int64(), nullable),
    data: Arrow.makeData({ type: new Arrow.Int64(), length, nullCount, nullBitmap, data }),
  };
}

export function float64Column(name: string, values: ArrayLike<number | null | undefined>, nullable: boolean): Column {
  const length = values.length;
  const data = new Float64Array(length);
  for (let i = 0; i < length; i++) data[i] = values[i] ?? 0;
  const { nullBitmap, nullCount } = validity(length, (i) => values[i] == null);
  if (!nullable) refuseNulls(name, nullCount);
  return {
    field: new Arrow.Field(name, new Arrow.Float64(), nullable),
    data: Arrow.makeData({ type: new Arrow.Float64(), length, nullCount, nullBitmap, data }),
  };
}

export function boolColumn(name: string, values: ArrayLike<boolean | null | undefined>, nullable: boolean): Column {
  const length = values.length;
  const data = new Uint8Array((length + 7) >> 3);
  for (let i = 0; i < length; i++) if (values[i] === true) data[i >> 3]! |= 1 << (i & 7);
  const { nullBitmap, nullCount } = validity(length, (i) => values[i] == null);
  if (!nullable) refuseNulls(name, nullCount);
  return {
    field: new Arrow.Field(name, new Arrow.Bool(), nullable),
    data: Arrow.makeData({ type: new Arrow.Bool(), length, nullCount, nullBitmap, data }),
  };
}

/**
 * A non-null FixedSizeList<float32 not null>[dim] over `values` (rows × dim, row-major), the
 * type DuckDB reads as `FLOAT[dim]` and LanceDB as a vector column. Never nullable: pyarrow
 * cannot read null FixedSizeList entries back (apache/arrow#35692).
 */
export function float32VectorColumn(name: string, values: Float32Array, dim: number, rows: number): Column {
  if (!Number.isInteger(dim) || dim <= 0) throw new RangeError(`column "${name}": dimension must be a positive integer, got ${dim}`);
  if (values.length !== rows * dim) {
    throw new RangeError(`column "${name}": expected ${rows} × ${dim} = ${rows * dim} floats, got ${values.length}`);
  }
  const item = new Arrow.Field('item', new Arrow.Float32(), false);
  const type = new Arrow.FixedSizeList(dim, item);
  const child = Arrow.makeData({ type: new Arrow.Float32(), length: rows * dim, nullCount: 0, data: values });
  return { field: new Arrow.Field(name, type, false), data: Arrow.makeData({ type, length: rows, nullCount: 0, child }) };
}

/**
 * The same FixedSizeList with float16 items (`--embedding-dtype float16`): `values` rounded to
 * binary16, half the bytes. pyarrow reads it as `halffloat`, DuckDB as FLOAT.
 */
export function float16VectorColumn(name: string, values: Float32Array, dim: number, rows: number): Column {
  const { field, data } = float32VectorColumn(name, values, dim, rows);
  const item = new Arrow.Field('item', new Arrow.Float16(), false);
  const type = new Arrow.FixedSizeList(dim, item);
  const child = Arrow.makeData({ type: new Arrow.Float16(), length: rows * dim, nullCount: 0, data: float32ToFloat16Bits(values) });
  return { field: new Arrow.Field(field.name, type, false), data: Arrow.makeData({ type, length: data.length, nullCount: 0, child }) };
}

/** list<string not null>, not null: one (possibly empty) list per row. */
export function utf8ListColumn(name: string, lists: ArrayLike<readonly string[]>): Column {
  const length = lists.length;
  const offsets = new Int32Array(length + 1);
  const flat: string[] = [];
  for (let i = 0; i < length; i++) {
    const list = lists[i];
    if (!list) throw new TypeError(`column "${name}" row ${i}: a list is required (use [] for none)`);
    offsets[i] = flat.length;
    for (const value of list) flat.push(value);
  }
  offsets[length] = flat.length;
  const type = new Arrow.List(new Arrow.Field('item', new Arrow.Utf8(), false));
  const data = Arrow.makeData({ type, length, nullCount: 0, valueOffsets: offsets, child: utf8Data(flat) });
  return { field: new Arrow.Field(name, type, false), data };
}

/** A RecordBatch (and the one-batch Table parquet-wasm takes) from columns of equal length. */
export function tableOf(columns: Column[], metadata: Map<string, string>): arrow.Table {
  const length = columns[0]?.data.length ?? 0;
  for (const column of columns) {
    if (column.data.length !== length) {
      throw new RangeError(`column "${column.field.name}" has ${column.data.length} rows, "${columns[0]!.field.name}" has ${length}`);
    }
  }
  const fields = columns.map((column) => column.field);
  const names = new Set<string>();
  for (const field of fields) {
    if (names.has(field.name)) throw new TypeError(`duplicate column name "${field.name}"`);
    names.add(field.name);
  }
  const schema = new Arrow.Schema(fields, metadata);
  const struct = Arrow.makeData({
    type: new Arrow.Struct(fields),
    length,
    nullCount: 0,
    children: columns.map((column) => column.data),
  });
  return new Arrow.Table(schema, [new Arrow.RecordBatch(schema, struct)]);
}
