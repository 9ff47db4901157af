/**
 * Stable int64 row ids: the `row_id` column of part and errors files, an id FAISS, usearch,
 * LanceDB or any array index can store and map back to its row.
 *
 * Bit layout (most significant first), always a non-negative int64:
 *
 *   bit  63      0 (sign bit, never set)
 *   bits 62..47  run tag: the first 16 bits of SHA-256(run id)   (ROW_ID_RUN_BITS)
 *   bits 46..20  shard number, 0 … 2^27−1 (≥ MAX_SHARD)            (ROW_ID_SHARD_BITS)
 *   bits 19..0   position of the object in the shard's plan,       (ROW_ID_ROW_BITS)
 *                0 … 2^20−1 (≥ the largest shard size, 1,000,000)
 *
 *   row_id = runTag << 47 | shard << 20 | position
 *
 * The position is the object's index in its shard's frozen plan, not the row's index in the
 * part file: an object keeps its id whether it lands in the part file or the errors file, a
 * retried shard gives every object the same id again, and compaction copies the column as is.
 * Within one run ids are therefore unique by construction. Across runs they differ by the run
 * tag, a hash: two runs collide with probability 1/65,536, so tools combining runs check
 * {@link runTag} of each run (see {@link runTagsCollide}) rather than assume.
 *
 * In Python: `tag = int.from_bytes(hashlib.sha256(run.encode()).digest()[:2], 'big')`,
 * `row_id = (tag << 47) | (shard << 20) | position`.
 */
import { createHash } from 'node:crypto';
import { assertRunId } from './run-id';
import { MAX_SHARD } from './shard-key';

export const ROW_ID_RUN_BITS = 16;
export const ROW_ID_SHARD_BITS = 27;
export const ROW_ID_ROW_BITS = 20;
/** Written as the Parquet files' `siglip_batch.row_id_layout` metadata: says how to decode their ids. */
export const ROW_ID_LAYOUT = 'sha256(run)[0:2] << 47 | shard << 20 | position';
/** Largest object position within a shard that fits the row bits. */
export const ROW_ID_MAX_ROW = 2 ** ROW_ID_ROW_BITS - 1;

const SHARD_SHIFT = BigInt(ROW_ID_ROW_BITS);
const RUN_SHIFT = BigInt(ROW_ID_ROW_BITS + ROW_ID_SHARD_BITS);
const ROW_MASK = (1n << SHARD_SHIFT) - 1n;
const SHARD_MASK = (1n << BigInt(ROW_ID_SHARD_BITS)) - 1n;
const RUN_MASK = (1n << BigInt(ROW_ID_RUN_BITS)) - 1n;
const MAX_ROW_ID = (1n << 63n) - 1n;

/** The 16-bit tag of a run: the first two bytes of SHA-256 of its id, big-endian. */
export function runTag(runId: string): number {
  const digest = createHash('sha256').update(assertRunId(runId), 'utf8').digest();
  return digest.readUInt16BE(0);
}

/** Whether two different runs share a tag, so that their row ids may collide. */
export function runTagsCollide(runA: string, runB: string): boolean {
  return runA !== runB && runTag(runA) === runTag(runB);
}

/** The row id of the object at `row` (its position in the shard's plan) of `shard` of `runId`. */
export function rowId(runId: string, shard: number, row: number): bigint {
  return rowIdOfTag(runTag(runId), shard, row);
}

/**
 * Row ids of a whole shard at once (hashes the run id once): the ids of plan positions
 * `positions[i]`, as the int64 column of a file.
 */
export function rowIdsOf(runId: string, shard: number, positions: ArrayLike<number>): BigInt64Array {
  const base = rowIdOfTag(runTag(runId), shard, 0);
  const ids = new BigInt64Array(positions.length);
  for (let i = 0; i < positions.length; i++) ids[i] = base | BigInt(checkRow(positions[i]!));
  return ids;
}

function rowIdOfTag(tag: number, shard: number, row: number): bigint {
  if (!Number.isInteger(shard) || shard < 0 || shard > MAX_SHARD) {
    throw new RangeError(`row id: shard must be an integer in [0, ${MAX_SHARD}], got ${shard}`);
  }
  return (BigInt(tag) << RUN_SHIFT) | (BigInt(shard) << SHARD_SHIFT) | BigInt(checkRow(row));
}

function checkRow(row: number): number {
  if (!Number.isInteger(row) || row < 0 || row > ROW_ID_MAX_ROW) {
    throw new RangeError(`row id: position in the shard must be an integer in [0, ${ROW_ID_MAX_ROW}], got ${row}`);
  }
  return row;
}

export interface RowIdParts {
  /** {@link runTag} of the run the row belongs to. */
  runTag: number;
  shard: number;
  /** Position of the object in the shard's plan. */
  row: number;
}

/** Inverse of {@link rowId}: the run tag, shard and plan position of a row id. */
export function parseRowId(id: bigint | number | string): RowIdParts {
  let value: bigint;
  try {
    value = BigInt(id);
  } catch {
    throw new RangeError(`not a row id: ${JSON.stringify(String(id))}`);
  }
  if (value < 0n || value > MAX_ROW_ID) throw new RangeError(`not a row id (must be a non-negative int64): ${value}`);
  const shard = Number((value >> SHARD_SHIFT) & SHARD_MASK);
  if (shard > MAX_SHARD) throw new RangeError(`not a row id (shard ${shard} is beyond ${MAX_SHARD}): ${value}`);
  return {
    runTag: Number((value >> RUN_SHIFT) & RUN_MASK),
    shard,
    row: Number(value & ROW_MASK),
  };
}
