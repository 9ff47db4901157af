import { describe, expect, it } from 'vitest';
import { ShutdownSteps } from './shutdown-steps';

describe('ShutdownSteps', () => {
  it('runs the steps in the order they were added, once, however often it is asked', async () => {
    const ran: string[] = [];
    const steps = new ShutdownSteps();
    steps.add('worker', async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      ran.push('worker');
    });
    steps.add('redis', () => ran.push('redis'));
    await Promise.all([steps.run(), steps.run()]);
    await steps.run();
    expect(ran).toEqual(['worker', 'redis']);
  });

  it('reports a failing step and still runs the next ones', async () => {
    const ran: string[] = [];
    const errors: string[] = [];
    const steps = new ShutdownSteps((step, error) => errors.push(`${step}: ${(error as Error).message}`));
    steps.add('model', () => {
      throw new Error('already closed');
    });
    steps.add('redis', () => ran.push('redis'));
    await steps.run();
    expect(errors).toEqual(['model: already closed']);
    expect(ran).toEqual(['redis']);
  });
});
