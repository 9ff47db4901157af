import { describe, expect, it } from 'vitest';
import { planFileSchema } from './plan-file';
import { runSpecSchema } from './run-spec';
import { shardJobDataSchema } from './job-data';
import { redisOptions, redisUrlFromEnv } from './redis-connection';

const spec = {
  schemaVersion: 1,
  runId: 'r1',
  source: 's3://bucket/images/',
  sourceKind: 's3',
  output: 's3://bucket/out/',
  model: {
    hash: 'ab'.repeat(32),
    variant: 'fp32',
    checkpoint: 'random:tiny:seed=0',
    embedDim: 64,
    textLength: 16,
    imageSize: { height: 224, width: 224 },
  },
  labels: [{ label: 'cat', prompts: [], threshold: 0.1 }],
  templates: ['This is a photo of {}.'],
  shardSize: 1000,
  priority: 0,
  filters: { suffixes: ['.jpg'], maxBytes: 50_000_000, maxPixels: 100_000_000 },
  createdAt: '2026-11-28T00:00:00.000Z',
};

describe('run spec', () => {
  it('accepts a complete spec and fills label defaults', () => {
    const parsed = runSpecSchema.parse({ ...spec, labels: [{ label: 'dog' }] });
    expect(parsed.labels).toEqual([{ label: 'dog', prompts: [], threshold: 0.1 }]);
  });
  it('refuses an empty label list (labels are optional, but never empty)', () => {
    expect(runSpecSchema.safeParse({ ...spec, labels: [] }).success).toBe(false);
    expect(runSpecSchema.safeParse({ ...spec, labels: null }).success).toBe(true);
  });
  it('refuses templates without a {} slot', () => {
    expect(runSpecSchema.safeParse({ ...spec, templates: ['a photo'] }).success).toBe(false);
  });
});

describe('shard job data', () => {
  it('is only run id + shard number', () => {
    expect(shardJobDataSchema.parse({ runId: 'r1', shard: 3 })).toEqual({ runId: 'r1', shard: 3 });
    expect(shardJobDataSchema.safeParse({ runId: 'r1' }).success).toBe(false);
  });
});

describe('plan file', () => {
  it('refuses an empty object list', () => {
    expect(planFileSchema.safeParse({ schemaVersion: 1, runId: 'r1', shard: 0, extraColumns: [], objects: [], cursor: 'a' }).success).toBe(false);
  });
});

describe('redis connection', () => {
  it('lets workers wait for Redis and producers fail fast', () => {
    expect(redisOptions('worker').maxRetriesPerRequest).toBeNull();
    expect(redisOptions('producer').maxRetriesPerRequest).toBeGreaterThan(0);
  });
  it('reads REDIS_URL', () => {
    expect(redisUrlFromEnv({})).toBe('redis://127.0.0.1:6379');
    expect(redisUrlFromEnv({ REDIS_URL: 'redis://h:1' })).toBe('redis://h:1');
  });
});
