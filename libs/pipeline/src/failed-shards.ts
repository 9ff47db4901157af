import { SHARD_BITS_LUA } from './shard-bits';

/**
 * The record of shards that failed permanently, kept bounded however many fail: per shard only
 * its failure code (4 bits in chunks of a hash, like the done bitmap one entry per planned shard: shard-bits.ts), per
 * run a counter of failed shards and one per code, and the last {@link RECENT_FAILURES_KEPT}
 * reasons. A model fault failing every shard costs the same Redis memory as one failure more.
 */

/**
 * Why a shard failed, derived from its error. The position in this list is what the bitfield
 * stores (0 = not failed), so new codes are only ever appended (at most 15).
 */
export const SHARD_FAILURE_CODES = ['inference', 'no-plan', 'model-mismatch', 's3-config', 'stalled', 'permanent', 'retries-exhausted'] as const;
export type ShardFailureCode = (typeof SHARD_FAILURE_CODES)[number];

/** Reasons kept per run (newest first); older ones are dropped, their counts stay. */
export const RECENT_FAILURES_KEPT = 20;
/** Longest reason kept, in characters. */
export const FAILURE_REASON_CHARS = 2000;

/** One of the last reasons kept for a run. */
export interface ShardFailure {
  shard: number;
  code: ShardFailureCode;
  reason: string;
  at: string;
}

/**
 * The failure code of a shard's final error: from the messages our own code throws (a worker
 * turns a permanent error into BullMQ's `UnrecoverableError`, which keeps only the message),
 * else whether it was permanent or ran out of retries.
 */
export function shardFailureCode(error: { name?: string; message: string }): ShardFailureCode {
  const message = error.message;
  if (message.startsWith('inference failed:')) return 'inference';
  if (/ has no plan in /.test(message)) return 'no-plan';
  if (/ needs model .* this process serves /.test(message)) return 'model-mismatch';
  if (/\bAWS region\b|\bAWS_REGION\b/.test(message)) return 's3-config';
  if (/stalled more than allowable limit/.test(message)) return 'stalled';
  if (error.name === 'UnrecoverableError') return 'permanent';
  return 'retries-exhausted';
}

/** Lua: the code names, in bitfield order, for scripts that turn a stored index back into a name. */
const CODE_NAMES = `local names = {${SHARD_FAILURE_CODES.map((code) => `'${code}'`).join(',')}}`;

/**
 * Clears shard ARGV[1]'s failure (KEYS: record, failure codes bitfield, recent failures), keeping
 * the counters exact: only a shard that was failed moves them, and its reasons leave the list.
 * Shared by marking a shard done and by reviving its job.
 */
export const CLEAR_FAILED_LUA = `${SHARD_BITS_LUA}
local function clearFailed(record, bits, recent, shard)
  ${CODE_NAMES}
  local old = setFailedCode(bits, tonumber(shard), 0)
  if old == 0 then return 0 end
  redis.call('HINCRBY', record, 'shardsFailed', -1)
  if names[old] then redis.call('HINCRBY', record, 'failcode:' .. names[old], -1) end
  for _, entry in ipairs(redis.call('LRANGE', recent, 0, -1)) do
    local ok, decoded = pcall(cjson.decode, entry)
    if ok and tonumber(decoded['shard']) == tonumber(shard) then redis.call('LREM', recent, 0, entry) end
  end
  return 1
end
`;

/**
 * Records shard ARGV[1] failed with code index ARGV[2] (KEYS: record, failure codes bitfield,
 * recent failures, done bitmap). A shard already done is not failed (a late duplicate's
 * failure); one failed again keeps counting once, under its latest code. Returns 1 when the
 * shard is newly failed.
 */
export const MARK_FAILED_LUA = `${SHARD_BITS_LUA}
${CODE_NAMES}
if getDoneBit(KEYS[4], tonumber(ARGV[1])) == 1 then return 0 end
local code = tonumber(ARGV[2])
local old = setFailedCode(KEYS[2], tonumber(ARGV[1]), code)
if old == 0 then redis.call('HINCRBY', KEYS[1], 'shardsFailed', 1) end
if old ~= code then
  if old ~= 0 and names[old] then redis.call('HINCRBY', KEYS[1], 'failcode:' .. names[old], -1) end
  redis.call('HINCRBY', KEYS[1], 'failcode:' .. names[code], 1)
end
redis.call('LPUSH', KEYS[3], ARGV[3])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[4]) - 1)
if old == 0 then return 1 end
return 0
`;

/** What the finaliser asks about failed shards without reading them all. */
export interface FailedShardsView {
  /** Whether the shard failed permanently. */
  isFailed(shard: number): Promise<boolean> | boolean;
  /** Its reason while it is among the last few kept. */
  reasonOf?(shard: number): string | undefined;
  /** How many shards failed in all, when known without asking every shard. */
  count?: number;
}

/** A view over a plain shard → reason map (tests and single-process runs). */
export function failedShardsOf(reasons: ReadonlyMap<number, string>): FailedShardsView {
  return { isFailed: (shard) => reasons.has(shard), reasonOf: (shard) => reasons.get(shard), count: reasons.size };
}
