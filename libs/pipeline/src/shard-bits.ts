/**
 * A run's per-shard bits in Redis (the done bitmap, the 4-bit failure codes) as hashes of
 * chunks: field `c` holds the bits of shards `[c × SHARD_BITS_CHUNK, (c + 1) × SHARD_BITS_CHUNK)`,
 * in the layout SETBIT and BITFIELD u4 give (most significant bit first). A run split into
 * planning units owns sparse blocks of shard ids (unit `u` from `u × 2^22` with 16 units): one
 * bitmap string would be as long as the highest id (~44 MB per run of 16 units, done and failed
 * together), where chunks exist only for the ids planned — a unit of `n` shards takes
 * `⌈n / SHARD_BITS_CHUNK⌉` fields of at most 512 bytes (done) and 2 KB (failed codes).
 *
 * Every change is made by a Lua script (one step in Redis: a crash leaves a bit set or not), the
 * helpers below being prepended to the scripts that need them; reads decode a chunk here.
 */

/** Shards per field; a power of two (unit blocks are multiples of 2^10, so units never share a chunk). */
export const SHARD_BITS_CHUNK = 4096;

/** The field of a shard's chunk. */
export function shardChunk(shard: number): string {
  return String(Math.floor(shard / SHARD_BITS_CHUNK));
}

/** Whether the done bit of `shard` is set in its chunk (null: no chunk). */
export function doneBitOf(chunk: Buffer | null, shard: number): boolean {
  if (!chunk) return false;
  const i = shard % SHARD_BITS_CHUNK;
  const byte = chunk[i >> 3];
  return byte !== undefined && (byte & (0x80 >> (i & 7))) !== 0;
}

/** The 4-bit failure code of `shard` in its chunk (0: not failed). */
export function failedCodeOf(chunk: Buffer | null, shard: number): number {
  if (!chunk) return 0;
  const i = shard % SHARD_BITS_CHUNK;
  const byte = chunk[i >> 1];
  if (byte === undefined) return 0;
  return i % 2 === 0 ? byte >> 4 : byte & 0x0f;
}

/**
 * Lua: `setDoneBit(key, shard)` sets the shard's done bit and returns the old one;
 * `getDoneBit(key, shard)`; `setFailedCode(key, shard, code)` sets its 4-bit code and returns the
 * old one. Bytes are padded with zeros up to the one written, as SETBIT does.
 */
export const SHARD_BITS_LUA = `
local SHARD_CHUNK = ${SHARD_BITS_CHUNK}
local function shardByte(key, shard, perByte)
  local field = tostring(math.floor(shard / SHARD_CHUNK))
  local i = shard % SHARD_CHUNK
  local chunk = redis.call('HGET', key, field) or ''
  local at = math.floor(i / perByte) + 1
  local old = 0
  if #chunk >= at then old = string.byte(chunk, at) end
  return field, chunk, at, old, i
end
local function putByte(key, field, chunk, at, value)
  if #chunk < at then chunk = chunk .. string.rep('\\0', at - #chunk) end
  redis.call('HSET', key, field, string.sub(chunk, 1, at - 1) .. string.char(value) .. string.sub(chunk, at + 1))
end
local function getDoneBit(key, shard)
  local _, _, _, old, i = shardByte(key, shard, 8)
  if bit.band(old, bit.rshift(128, i % 8)) ~= 0 then return 1 end
  return 0
end
local function setDoneBit(key, shard)
  local field, chunk, at, old, i = shardByte(key, shard, 8)
  local mask = bit.rshift(128, i % 8)
  if bit.band(old, mask) ~= 0 then return 1 end
  putByte(key, field, chunk, at, bit.bor(old, mask))
  return 0
end
local function setFailedCode(key, shard, code)
  local field, chunk, at, old, i = shardByte(key, shard, 2)
  local previous, value
  if i % 2 == 0 then
    previous = bit.rshift(old, 4)
    value = bit.bor(bit.lshift(code, 4), bit.band(old, 15))
  else
    previous = bit.band(old, 15)
    value = bit.bor(bit.band(old, 240), code)
  end
  if previous ~= code then putByte(key, field, chunk, at, value) end
  return previous
end
`;
