import { Redis } from 'ioredis';
import { describe, expect, test } from '@siglip-batch/testing';
import { firstShardOfUnit, runDoneBitmapKey, runFailedKey, runRecordKey, unitShardsFor, type ShardStats } from '@siglip-batch/jobs';
import { RunRegistry } from './run-registry';
import { SHARD_BITS_CHUNK, SHARD_BITS_LUA, doneBitOf, failedCodeOf, shardChunk } from './shard-bits';

const SET_DONE = `${SHARD_BITS_LUA}\nreturn setDoneBit(KEYS[1], tonumber(ARGV[1]))`;
const SET_CODE = `${SHARD_BITS_LUA}\nreturn setFailedCode(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))`;

function statsOf(runId: string, shard: number): ShardStats {
  return { schemaVersion: 1, runId, shard, planned: 1, ok: 1, error: 0, errorCodes: {}, part: null, errors: null, attempt: 1, worker: 'w', startedAt: '', finishedAt: '', timingsMs: {} };
}

describe('shard bits in chunks', () => {
  test('the same bits as SETBIT and BITFIELD u4 give, chunk by chunk', async ({ redisUrl, queuePrefix }) => {
    const redis = new Redis(redisUrl);
    try {
      const chunked = `${queuePrefix}:bits`;
      const codes = `${queuePrefix}:codes`;
      const plain = `${queuePrefix}:plain`;
      const plainCodes = `${queuePrefix}:plaincodes`;
      const shards = [0, 1, 7, 8, 9, 4095, 4096, 4097, 8191, 12_345, 5 * 2 ** 22, 5 * 2 ** 22 + 17];
      for (const [i, shard] of shards.entries()) {
        expect(await redis.eval(SET_DONE, 1, chunked, shard)).toBe(0);
        expect(await redis.eval(SET_DONE, 1, chunked, shard)).toBe(1);
        await redis.setbit(plain, shard, 1);
        const code = (i % 15) + 1;
        expect(await redis.eval(SET_CODE, 1, codes, shard, code)).toBe(0);
        expect(await redis.eval(SET_CODE, 1, codes, shard, code)).toBe(code);
        await redis.bitfield(plainCodes, 'SET', 'u4', `#${shard}`, code);
      }
      // Clearing one code leaves its neighbours in the same byte.
      expect(await redis.eval(SET_CODE, 1, codes, 8, 0)).toBe(4);
      await redis.bitfield(plainCodes, 'SET', 'u4', '#8', 0);
      // Chunk c is the bytes of the plain string's chunk c (zero-padded past its last byte).
      const same = async (hash: string, string: string, chunk: number, bytes: number) => {
        const value = (await redis.hgetBuffer(hash, String(chunk))) ?? Buffer.alloc(0);
        const range = await redis.getrangeBuffer(string, chunk * bytes, (chunk + 1) * bytes - 1);
        const padded = Buffer.concat([value, Buffer.alloc(Math.max(0, range.length - value.length))]);
        expect(padded.subarray(0, range.length).equals(range)).toBe(true);
        expect(value.subarray(range.length).every((byte) => byte === 0)).toBe(true);
      };
      for (const chunk of [0, 1, 2, 3, (5 * 2 ** 22) / SHARD_BITS_CHUNK]) {
        await same(chunked, plain, chunk, SHARD_BITS_CHUNK / 8);
        await same(codes, plainCodes, chunk, SHARD_BITS_CHUNK / 2);
      }
      for (const shard of [...shards, 2, 10, 4098, 12_344]) {
        expect(doneBitOf(await redis.hgetBuffer(chunked, shardChunk(shard)), shard)).toBe((await redis.getbit(plain, shard)) === 1);
        const [code] = (await redis.bitfield(plainCodes, 'GET', 'u4', `#${shard}`)) as number[];
        expect(failedCodeOf(await redis.hgetBuffer(codes, shardChunk(shard)), shard)).toBe(code);
      }
      expect(failedCodeOf(await redis.hgetBuffer(codes, shardChunk(5 * 2 ** 22 + 17)), 5 * 2 ** 22 + 17)).toBe(12);
      expect(doneBitOf(await redis.hgetBuffer(chunked, shardChunk(5 * 2 ** 22 + 18)), 5 * 2 ** 22 + 18)).toBe(false);
    } finally {
      redis.disconnect();
    }
  });

  test('a run of 16 planning units takes Redis memory for the shards it planned, not for its highest shard id', async ({ redisUrl, queuePrefix }) => {
    const redis = new Redis(redisUrl);
    try {
      const registry = new RunRegistry(redis, queuePrefix);
      const block = unitShardsFor(16);
      // 16 units of 100 shards each: ids up to 15 × 2^22 + 99.
      const shards = Array.from({ length: 16 }, (_, unit) => Array.from({ length: 100 }, (_, i) => firstShardOfUnit(unit, block) + i)).flat();
      for (const shard of shards) await registry.markShardDone(statsOf('sparse', shard));
      await registry.markShardFailed('sparse', firstShardOfUnit(15, block) + 100, 'x', 'inference');
      const memory = async (key: string) => Number(await redis.call('MEMORY', 'USAGE', key));
      // 16 chunks of 13 bytes, a few KB in all; one bitmap string would be 7.9 MB (and 31 MB of codes).
      expect(await redis.hlen(runDoneBitmapKey(queuePrefix, 'sparse'))).toBe(16);
      expect(await memory(runDoneBitmapKey(queuePrefix, 'sparse'))).toBeLessThan(4096);
      expect(await memory(runFailedKey(queuePrefix, 'sparse'))).toBeLessThan(1024);
      expect(await registry.shardsDone('sparse', [0, 99, 100, block, block + 99, block + 100, 15 * block + 99, SHARD_BITS_CHUNK])).toEqual([true, true, false, true, true, false, true, false]);
      expect(await registry.isShardDone('sparse', 15 * block + 100)).toBe(false);
      expect(await registry.isShardFailed('sparse', 15 * block + 100)).toBe(true);
      expect(await redis.hget(runRecordKey(queuePrefix, 'sparse'), 'shardsDone')).toBe('1600');
      // Done after failing: no longer failed.
      await registry.markShardDone(statsOf('sparse', 15 * block + 100));
      expect(await registry.isShardFailed('sparse', 15 * block + 100)).toBe(false);
      expect(await redis.hget(runRecordKey(queuePrefix, 'sparse'), 'shardsFailed')).toBe('0');
    } finally {
      redis.disconnect();
    }
  });
});
