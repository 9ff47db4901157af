/** The `siglip-batch` command as a user runs it: the workspace bin, in its own process. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = `${root}node_modules/.bin/siglip-batch`;
const version = (JSON.parse(readFileSync(`${root}apps/producer/package.json`, 'utf8')) as { version: string }).version;

function run(...args: string[]) {
  return spawnSync(bin, args, { cwd: root, encoding: 'utf8', timeout: 60_000 });
}

describe('siglip-batch', () => {
  it('prints its version', () => {
    const result = run('--version');
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });

  it('lists its subcommands in --help', () => {
    const result = run('--help');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage: siglip-batch/m);
    expect(result.stdout).toMatch(/^\s+worker\b/m);
  });

  it('runs the worker app as its own process for `worker`, passing arguments through', () => {
    const result = run('worker', '--help');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage: siglip-batch worker/m);
  });

  it("returns the worker process's exit code", () => {
    // A refused configuration exits with 2 in the worker process; the launcher passes it on.
    const result = run('worker', '--model', '/nonexistent/model-dir', '--redis-url', 'redis://127.0.0.1:1');
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/\/nonexistent\/model-dir/);
    expect(result.stderr).toMatch(/Redis/);
  });

  it('refuses an unknown subcommand', () => {
    const result = run('no-such-command');
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/unknown command 'no-such-command'/);
  });
});
