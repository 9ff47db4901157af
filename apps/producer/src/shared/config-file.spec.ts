import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '@siglip-batch/pipeline';
import { CONFIG_PRINTED, applyConfig, effectiveConfig, parseConfigText, printedConfig } from './config-file';
import { addConnectionOptions } from './connections';
import { positiveInt } from './parsers';
import { addRunOptions } from './run-options';

const work = mkdtempSync(join(tmpdir(), 'siglip-config-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
  delete process.env['SIGLIP_BATCH_PREFIX'];
});

/** An `enqueue`-like command: the shared run options, one of its own, the connection options. */
function command(onAction: (options: Record<string, unknown>) => void = () => undefined): Command {
  const cmd = new Command('enqueue').exitOverride().configureOutput({ writeErr: () => undefined });
  addRunOptions(cmd.option('--run <id>', 'run id')).option('--max-waiting <n>', 'backpressure', positiveInt('--max-waiting'), 200);
  return addConnectionOptions(cmd).action((options: Record<string, unknown>) => onAction(options));
}

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('config file', () => {
  it('fills what the command line leaves unset; flags and environment variables win', async () => {
    const file = join(work, 'run.yaml');
    writeFileSync(file, ['run: from-file', 'shard-size: 500', 'maxWaiting: 7', 'suffix: [.jpg, .png]', 'write-s3-tags: true', 'prefix: file-prefix', 'variant: fp16'].join('\n'));
    process.env['SIGLIP_BATCH_PREFIX'] = 'env-prefix';
    let seen: Record<string, unknown> | undefined;
    await command((options) => (seen = options)).parseAsync(['--config', file, '--shard-size', '20', '--suffix', '.webp'], { from: 'user' });
    expect(seen).toMatchObject({
      run: 'from-file',
      shardSize: 20,
      maxWaiting: 7,
      suffix: ['.webp'],
      writeS3Tags: true,
      prefix: 'env-prefix',
      variant: 'fp16',
    });
  });

  it('names every unknown key, wrong type and refused value with its key and the file, at once', () => {
    const cmd = command();
    cmd.parse([], { from: 'user' });
    const values = parseConfigText(
      ['shard_size: 3', 'shard-size: x', 'write-s3-tags: "yes"', 'template: {a: 1}', 'run: [a, b]', 'colour: blue', 'max-pixels: 2000000000'].join('\n'),
      'bad.yaml',
    );
    expect(problemsOf(() => applyConfig(cmd, values, 'bad.yaml'))).toEqual([
      'bad.yaml: unknown key "shard_size" (did you mean shard-size?)',
      'bad.yaml: shard-size: --shard-size must be a positive integer, got "x"',
      'bad.yaml: write-s3-tags: expected true or false (it is a switch, --write-s3-tags), got string "yes"',
      'bad.yaml: template: expected a string or a list of strings, got a mapping',
      'bad.yaml: run: expected one value, got a list',
      'bad.yaml: unknown key "colour" (keys are the flags of `siglip-batch enqueue` without --, see its --help)',
      expect.stringMatching(/^bad\.yaml: max-pixels: --max-pixels must be at most 1000000000 /),
    ]);
    expect(problemsOf(() => applyConfig(cmd, { 'shard-size': 1, shardSize: 2 }, 'twice.yaml'))).toEqual(['twice.yaml: "shardSize" and "shard-size" are the same option']);
    expect(problemsOf(() => applyConfig(cmd, { config: 'other.yaml' }, 'self.yaml'))).toEqual([
      'self.yaml: unknown key "config" (keys are the flags of `siglip-batch enqueue` without --, see its --help)',
    ]);
  });

  it('reads YAML and JSON mappings, and refuses anything else', () => {
    expect(parseConfigText('{"run": "a", "shard-size": 5}', 'run.json')).toEqual({ run: 'a', 'shard-size': 5 });
    expect(parseConfigText('', 'empty.yaml')).toEqual({});
    expect(problemsOf(() => parseConfigText('- a\n- b\n', 'list.yaml'))).toEqual([
      '--config list.yaml: expected a mapping of option names to values (e.g. shard-size: 500), got a list',
    ]);
    expect(problemsOf(() => parseConfigText('run: [a\n', 'broken.yaml'))[0]).toMatch(/^--config broken\.yaml: not valid YAML or JSON \(/);
  });

  it('prints the effective configuration in a form it reads back', () => {
    const cmd = command();
    cmd.parse(['--run', 'r1', '--shard-size', '64', '--template', 'a photo of {}', '--write-s3-tags'], { from: 'user' });
    const config = effectiveConfig(cmd);
    expect(config).toMatchObject({ run: 'r1', 'shard-size': 64, template: ['a photo of {}'], 'write-s3-tags': true, 'max-waiting': 200, variant: 'fp32', prefix: 'bull' });
    expect(Object.keys(config)).not.toContain('print-config');
    const again = command();
    again.parse([], { from: 'user' });
    applyConfig(again, parseConfigText(printedConfig(config, false), 'printed.yaml'), 'printed.yaml');
    expect(effectiveConfig(again)).toEqual(config);
    expect(JSON.parse(printedConfig(config, true))).toEqual(config);
  });

  it('reads and prints a --no-x switch in its own sense', () => {
    const cmd = new Command('x').option('--no-verify', 'skip the check');
    cmd.parse([], { from: 'user' });
    expect(effectiveConfig(cmd)).toEqual({ 'no-verify': false });
    applyConfig(cmd, { 'no-verify': true }, 'x.yaml');
    expect(cmd.opts()).toEqual({ verify: false });
    expect(effectiveConfig(cmd)).toEqual({ 'no-verify': true });
  });

  it('--print-config prints the merged configuration with secrets hidden and runs nothing', async () => {
    const file = join(work, 'print.yaml');
    writeFileSync(file, 'run: printed\nredis-url: redis://:hunter2@127.0.0.1:6379\n');
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    let ran = false;
    const error = await command(() => (ran = true))
      .parseAsync(['--config', file, '--print-config', '--priority', '3'], { from: 'user' })
      .catch((e: unknown) => e);
    vi.restoreAllMocks();
    expect(error).toBeInstanceOf(CommanderError);
    expect(error).toMatchObject({ exitCode: 0, code: CONFIG_PRINTED });
    expect(ran).toBe(false);
    const printed = out.join('');
    expect(printed).toContain('run: printed\n');
    expect(printed).toContain('priority: 3\n');
    expect(printed).toContain('redis-url: redis://:***@127.0.0.1:6379\n');
    expect(printed).not.toContain('hunter2');
  });
});
