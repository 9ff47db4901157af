import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { ConfigError, ProblemList, RedisUnreachableError, connectCheckedRedis } from '@siglip-batch/pipeline';
import { CliError, EXIT, EXIT_CODE_HELP, describeFailure, failureJson, jsonRequested, runStateExitCode } from './exit-codes';

/** The error commander throws (with exitOverride) for `argv` against a small command. */
function commanderFailure(argv: string[]): unknown {
  const program = new Command('t').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  program
    .command('sub')
    .argument('<run>')
    .option('--n <n>', 'a number', (value: string) => {
      if (!/^\d+$/.test(value)) throw new InvalidArgumentError('not a number');
      return Number(value);
    })
    .action(() => undefined);
  try {
    program.parse(['node', 't', ...argv]);
  } catch (error) {
    return error;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
}

describe('exit codes', () => {
  it('maps commander usage errors to 2, and help and version to 0', () => {
    for (const argv of [['sub', 'r', '--bogus'], ['sub'], ['sub', 'r', '--n', 'x'], ['nope']]) {
      const failure = describeFailure(commanderFailure(argv));
      expect(failure, argv.join(' ')).toMatchObject({ exitCode: EXIT.usage, code: 'usage', printed: true });
      expect(failure.message).not.toMatch(/^error: /);
    }
    expect(describeFailure(commanderFailure(['--help']))).toMatchObject({ exitCode: 0, printed: true });
    expect(describeFailure(new CommanderError(0, 'commander.version', '1.0.0')).exitCode).toBe(0);
  });

  it('maps a refused configuration to 2 with every problem, a CliError to its own code, anything else to 1', () => {
    expect(describeFailure(new ConfigError(['--out is required', '--source s3:/x: bad']))).toEqual({
      exitCode: 2,
      code: 'invalid_configuration',
      message: 'invalid configuration (2 problems):\n  - --out is required\n  - --source s3:/x: bad',
      problems: ['--out is required', '--source s3:/x: bad'],
      printed: false,
    });
    expect(describeFailure(new CliError('run x is not known', EXIT.failure, 'not_found'))).toMatchObject({ exitCode: 1, code: 'not_found', message: 'run x is not known' });
    expect(describeFailure(new Error('ECONNRESET'))).toMatchObject({ exitCode: 1, code: 'failed', message: 'ECONNRESET' });
  });

  it('maps an unreachable Redis to 6, alone or as the only problem of a configuration, and refused credentials to 2', async () => {
    const refused = await connectCheckedRedis('redis://127.0.0.1:1', { retryStrategy: () => null, maxRetriesPerRequest: 0 }, false).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RedisUnreachableError);
    expect(describeFailure(refused)).toMatchObject({ exitCode: EXIT.unavailable, code: 'unavailable' });
    const only = new ProblemList();
    await only.check('Redis', () => Promise.reject(refused));
    const onlyError = (() => {
      try {
        only.throwIfAny();
      } catch (e) {
        return e;
      }
    })();
    expect(describeFailure(onlyError)).toMatchObject({ exitCode: EXIT.unavailable, code: 'unavailable', problems: [expect.stringMatching(/^Redis: Redis is not reachable/)] });
    const more = new ProblemList();
    await more.check('Redis', () => Promise.reject(refused));
    more.add('--out is required');
    expect(() => more.throwIfAny()).toThrow(ConfigError);
    try {
      more.throwIfAny();
    } catch (e) {
      expect(describeFailure(e)).toMatchObject({ exitCode: EXIT.usage, code: 'invalid_configuration' });
    }
  });

  it('prints a failure as one JSON object', () => {
    const json = JSON.parse(failureJson(describeFailure(new CliError('run x is not known', EXIT.failure, 'not_found')))) as unknown;
    expect(json).toEqual({ error: { code: 'not_found', message: 'run x is not known', exitCode: 1 } });
    const config = JSON.parse(failureJson(describeFailure(new ConfigError(['a'])))) as { error: { problems: string[]; exitCode: number } };
    expect(config.error).toMatchObject({ problems: ['a'], exitCode: 2 });
  });

  it('sees --json before a --', () => {
    expect(jsonRequested(['node', 'b', 'status', 'r', '--json'])).toBe(true);
    expect(jsonRequested(['node', 'b', 'status', 'r'])).toBe(false);
    expect(jsonRequested(['node', 'b', 'model', 'embed', '--', '--json'])).toBe(false);
  });

  it('tells a run that ended failed, cancelled or with nothing embedded apart from success', () => {
    expect(runStateExitCode('completed', 12)).toBe(EXIT.ok);
    expect(runStateExitCode('completed', 0)).toBe(EXIT.nothingEmbedded);
    expect(runStateExitCode('failed', 3)).toBe(EXIT.runFailed);
    expect(runStateExitCode('cancelled', 0)).toBe(EXIT.cancelled);
    expect(runStateExitCode('running', 0)).toBe(EXIT.ok);
    expect(runStateExitCode('listing', 0)).toBe(EXIT.ok);
  });

  it('documents every code in the help footer, once', () => {
    for (const code of new Set(Object.values(EXIT))) expect(EXIT_CODE_HELP.match(new RegExp(`^  ${code}  `, 'gm'))).toHaveLength(1);
    expect(EXIT_CODE_HELP.split('\n')).toHaveLength(1 + new Set(Object.values(EXIT)).size);
  });
});
