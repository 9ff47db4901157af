import { describe, expect, it } from 'vitest';
import { errorsKey, partKey, planKey, runFolder, shardOfKey, statsKey } from './run-layout';
import { parseQueueName, queueNameForModel } from './queue-name';

describe('run folder layout', () => {
  it('places a run under its output prefix', () => {
    expect(runFolder('', 'r1')).toBe('r1/');
    expect(runFolder('out', 'r1')).toBe('out/r1/');
    expect(runFolder('out/', 'r1')).toBe('out/r1/');
    expect(() => runFolder('out/', 'R1')).toThrow(/invalid run id/);
  });
  it('derives every shard key from the shard number', () => {
    expect(planKey(3)).toBe('_plan/00000003.json');
    expect(partKey(3)).toBe('parts/part-00000003.parquet');
    expect(errorsKey(3)).toBe('errors/errors-00000003.parquet');
    expect(statsKey(3)).toBe('_stats/00000003.json');
    expect(shardOfKey('out/r1/_stats/00000003.json')).toBe(3);
    expect(shardOfKey('_plan/00000012.json')).toBe(12);
    expect(shardOfKey('_plan/_listing.json')).toBeUndefined();
  });
});

describe('queue names', () => {
  const hash = 'ab'.repeat(32);
  it('derives one queue per model hash and variant', () => {
    expect(queueNameForModel(hash, 'fp32')).toBe('siglip-abababababababab-fp32');
    expect(queueNameForModel(hash, 'fp16')).not.toBe(queueNameForModel(hash, 'fp32'));
    expect(queueNameForModel('cd'.repeat(32), 'fp32')).not.toBe(queueNameForModel(hash, 'fp32'));
    expect(queueNameForModel(hash, 'fp32')).not.toContain(':');
    expect(parseQueueName(queueNameForModel(hash, 'quantized'))).toEqual({ hashPrefix: 'ab'.repeat(8), variant: 'quantized' });
  });
  it('refuses a hash that is not hex and unknown variants', () => {
    expect(() => queueNameForModel('not-a-hash', 'fp32')).toThrow(/content hash/);
    expect(() => queueNameForModel(hash, 'int4' as never)).toThrow(/variant/);
  });
});
