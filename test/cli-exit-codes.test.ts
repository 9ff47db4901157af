/**
 * What a script sees of `siglip-batch`: the exit code table (usage errors 2, nothing embedded 4, no Redis 6),
 * JSON on stdout for `--json` commands — errors included —, `--config` files under the flags,
 * `--print-config`, `--log-level`, and plain progress lines when stderr is not a terminal.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { describe, expect, test } from '@siglip-batch/testing';
import { runSpecSchema } from '@siglip-batch/jobs';
import { BROKEN_OBJECTS, makeSampleImage } from './support/sample-images';
import { CLI, REPO_ROOT, TINY_MODEL, runCli } from './support/cli';

const work = mkdtempSync(join(tmpdir(), 'siglip-cli-codes-'));
const images = join(work, 'images');
const broken = join(work, 'broken');
const out = join(work, 'out');
const configOut = join(work, 'config-out');
// Nothing here needs Redis but status and cancel: a closed port proves it for the rest.
const offline = { ...process.env, REDIS_URL: 'redis://127.0.0.1:1' };

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('siglip-batch exit codes, JSON and config files', () => {
  test('usage errors exit with 2: commander, flag values, config keys, start checks', async () => {
    const config = join(work, 'unknown-key.yaml');
    writeFileSync(config, 'source: ./x\nshard_size: 3\n');
    const cases: Array<[string[], RegExp]> = [
      [['enqueue', '--bogus'], /unknown option '--bogus'/],
      [['enqueue', '--shard-size', 'x'], /--shard-size must be a positive integer, got "x"/],
      [['status', 'NOPE'], /invalid run id "NOPE"/],
      [['embed', '--config', config, '--model', TINY_MODEL], new RegExp(`${config.replace(/[.]/g, '\\.')}: unknown key "shard_size" \\(did you mean shard-size\\?\\)`)],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args, offline, 60_000)));
    for (const [i, [args, message]] of cases.entries()) {
      expect(results[i]!.code, `${args.join(' ')}: ${results[i]!.stderr}`).toBe(2);
      expect(results[i]!.stderr).toMatch(message);
    }
  });

  test('a reader that closes the pipe early (| head) ends the command quietly, with its own exit code', async () => {
    for (const args of [['--help'], ['embed', '--help']]) {
      const result = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
        const child = spawn(CLI, args, { env: offline, cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
        // Closed before the command has started: every write to stdout fails with EPIPE.
        child.stdout.destroy();
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('error', reject);
        child.on('exit', (code) => resolve({ code, stderr }));
      });
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
      expect(result.stderr).not.toMatch(/EPIPE|Unhandled|\n\s+at /);
    }
  });

  test('a bad --source is reported once, with exit code 2', async () => {
    const result = await runCli(['embed', '--source', 's3:/x', '--out', out, '--model', TINY_MODEL, '--json'], offline, 60_000);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr.match(/unsupported URI "s3:\/x"/g)).toHaveLength(1);
    expect(result.stderr).toContain('--source s3:/x: unsupported URI');
    const json = JSON.parse(result.stdout) as { error: { code: string; exitCode: number; problems: string[] } };
    expect(json.error).toMatchObject({ code: 'invalid_configuration', exitCode: 2 });
    expect(json.error.problems).toHaveLength(1);
  });

  test('status and cancel of an unknown run print a JSON error on stdout with --json; no Redis is 6', async ({ redisUrl, queuePrefix }) => {
    const env = { ...process.env, REDIS_URL: redisUrl, SIGLIP_BATCH_PREFIX: queuePrefix };
    for (const command of ['status', 'cancel']) {
      const result = await runCli([command, 'nope', '--json'], env, 60_000);
      expect(result.code, result.stderr).toBe(1);
      const json = JSON.parse(result.stdout) as { error: { code: string; message: string; exitCode: number } };
      expect(json.error).toMatchObject({ code: 'not_found', exitCode: 1 });
      expect(json.error.message).toMatch(/^run nope is not known to Redis/);
    }
    const text = await runCli(['status', 'nope'], env, 60_000);
    expect(text.stdout).toBe('');
    expect(text.stderr).toMatch(/^siglip-batch: run nope is not known to Redis/);
    // No Redis at all: 6, try again later.
    const down = await runCli(['status', 'nope', '--json'], offline, 60_000);
    expect(down.code, down.stderr).toBe(6);
    expect(JSON.parse(down.stdout)).toMatchObject({ error: { code: 'unavailable', exitCode: 6, message: expect.stringMatching(/^Redis is not reachable at redis:\/\/127\.0\.0\.1:1/) } });
  });

  test('--config fills the options, flags win, --print-config shows the result; progress lines without a terminal', async () => {
    mkdirSync(images, { recursive: true });
    for (let i = 0; i < 40; i++) {
      const image = await makeSampleImage(7100 + i);
      writeFileSync(join(images, image.name), image.bytes);
    }
    const config = join(work, 'run.yaml');
    writeFileSync(config, [`source: ${images}`, `out: ${configOut}`, `model: ${TINY_MODEL}`, 'run: from-file', 'labels: cat,dog', 'shard-size: 500', 'threads: 1', 'batch-size: 4'].join('\n'));

    const printed = await runCli(['embed', '--config', config, '--shard-size', '8', '--print-config'], offline, 60_000);
    expect(printed.code, printed.stderr).toBe(0);
    expect(parseYaml(printed.stdout)).toMatchObject({ source: images, run: 'from-file', labels: 'cat,dog', 'shard-size': 8, threads: 1, 'batch-size': 4, 'progress-interval': 10 });
    expect(existsSync(configOut)).toBe(false);

    const result = await runCli(['embed', '--config', config, '--shard-size', '8', '--progress-interval', '0.01'], offline);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe(`file://${configOut}/from-file`);
    const spec = runSpecSchema.parse(JSON.parse(readFileSync(join(configOut, 'from-file', '_run.json'), 'utf8')));
    expect(spec.shardSize).toBe(8);
    expect(spec.labels?.map((l) => l.label)).toEqual(['cat', 'dog']);
    // stderr is a pipe here: plain lines, no bar.
    expect(result.stderr).toMatch(/^progress: \d+\/\d+ objects( \(listing…\))? \[\d+s\]$/m);
    expect(result.stderr).not.toContain('\u001b[');
    expect(result.stderr).toContain('run from-file: 40 objects, 40 embedded, 0 errors');

    // Again (a no-op), quieter and in JSON.
    const quiet = await runCli(['embed', '--config', config, '--shard-size', '8', '--log-level', 'warn', '--json'], offline);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(JSON.parse(quiet.stdout)).toMatchObject({ run: 'from-file', folder: `file://${configOut}/from-file`, counts: { planned: 40, ok: 40 } });
  });

  test('a run that embeds nothing exits with 4', async () => {
    mkdirSync(broken, { recursive: true });
    for (const object of BROKEN_OBJECTS) writeFileSync(join(broken, object.name), object.bytes);
    const result = await runCli(['embed', '--source', broken, '--out', out, '--model', TINY_MODEL, '--run', 'all-broken', '--threads', '1', '--json'], offline);
    expect(result.code, result.stderr).toBe(4);
    expect(JSON.parse(result.stdout)).toMatchObject({ run: 'all-broken', counts: { planned: BROKEN_OBJECTS.length, ok: 0, error: BROKEN_OBJECTS.length } });
  });
});

