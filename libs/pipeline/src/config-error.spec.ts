import { describe, expect, it } from 'vitest';
import { ConfigError, ProblemList } from './config-error';
import { RedisUnreachableError } from './redis-unreachable-error';

describe('ProblemList', () => {
  it('throws one ConfigError naming every problem', async () => {
    const problems = new ProblemList();
    problems.add('--run is required');
    expect(await problems.check('--shard-size', () => Promise.reject(new Error('must be positive')))).toBeUndefined();
    expect(await problems.check('model', () => 'ok')).toBe('ok');
    const error = (() => {
      try {
        problems.throwIfAny();
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual(['--run is required', '--shard-size: must be positive']);
    expect((error as ConfigError).message).toBe('invalid configuration (2 problems):\n  - --run is required\n  - --shard-size: must be positive');
  });

  it('reports one fault found by two checks once, under the first name', async () => {
    const problems = new ProblemList();
    const bad = () => {
      throw new Error('unsupported URI "s3:/x"');
    };
    await problems.check('--source s3:/x', bad);
    await problems.check('run', bad);
    await problems.check('--out', () => {
      throw new Error('not writable');
    });
    expect(problems.problems).toEqual(['--source s3:/x: unsupported URI "s3:/x"', '--out: not writable']);
  });

  it('is unreachable only when every problem is an unreachable Redis', async () => {
    const down = () => Promise.reject(new RedisUnreachableError('Redis is not reachable at redis://127.0.0.1:1 (connection refused)'));
    const only = new ProblemList();
    expect(only.toError()).toBeUndefined();
    await only.check('Redis', down);
    expect(only.toError()).toMatchObject({ unreachable: true, problems: ['Redis: Redis is not reachable at redis://127.0.0.1:1 (connection refused)'] });
    const more = new ProblemList();
    await more.check('Redis', down);
    more.add('--out is required');
    expect(more.toError()?.unreachable).toBe(false);
  });
});
