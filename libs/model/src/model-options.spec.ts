import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { parseDevice, resolveModelOptions } from './model-options';

describe('parseDevice', () => {
  it('accepts cpu, cuda and cuda:N', () => {
    expect(parseDevice('cpu')).toEqual({ kind: 'cpu' });
    expect(parseDevice('cuda')).toEqual({ kind: 'cuda', deviceId: 0 });
    expect(parseDevice('cuda:3')).toEqual({ kind: 'cuda', deviceId: 3 });
  });

  it.each(['gpu', 'cuda:', 'cuda:x', 'cpu:1', 'CUDA', 'tensorrt', ''])('refuses %j', (text) => {
    expect(() => parseDevice(text)).toThrow(/use cpu, cuda or cuda:N/);
  });
});

describe('resolveModelOptions', () => {
  it('applies the defaults', () => {
    expect(resolveModelOptions({}).options).toEqual({
      device: { kind: 'cpu' },
      deviceName: 'cpu',
      variant: 'fp32',
      intraOpThreads: availableParallelism(),
      graphOptimizationLevel: 'all',
      verifyContentHash: true,
      towers: ['vision', 'text'],
      maxPixels: 100_000_000,
      decode: { mode: 'exact' },
    });
  });

  it('reports every bad option', () => {
    const { options, problems } = resolveModelOptions({
      device: 'gpu0',
      variant: 'int4' as never,
      intraOpThreads: 0,
      graphOptimizationLevel: 'max' as never,
      decode: { mode: 'fast', reducingGap: 0.5 },
    });
    expect(options).toBeUndefined();
    expect(problems).toHaveLength(5);
    expect(problems.join('\n')).toMatch(/option device: unknown device "gpu0"/);
    expect(problems.join('\n')).toMatch(/option decode\.reducingGap: /);
  });
});
