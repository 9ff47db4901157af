import { describe, expect, it } from 'vitest';
import { launchPerGpu, stripOptions } from './gpu-launcher';

describe('--gpus', () => {
  it('passes every other option through and replaces --gpus/--device per child', () => {
    expect(stripOptions(['--model', 'm', '--gpus', '0,1', '--device=cpu', '--batch-size', '8'], ['--gpus', '--device'])).toEqual([
      '--model',
      'm',
      '--batch-size',
      '8',
    ]);
  });
  it('refuses a list that is not GPU numbers, starting nothing', async () => {
    expect(await launchPerGpu('0,x', [])).toBe(2);
    expect(await launchPerGpu('', [])).toBe(2);
  });
});
