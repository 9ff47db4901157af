/**
 * `siglip-batch embed` and the worker restart themselves in place with glibc's allocator settings
 * (tools/run-app.mjs: ALLOCATOR_TUNABLES) before anything else runs: same process, same
 * arguments, GLIBC_TUNABLES set. A module preloaded through NODE_OPTIONS runs at each start of the
 * process and records what it saw.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ALLOCATOR_TUNABLES } from '../tools/run-app.mjs';
import { CLI, REPO_ROOT } from './support/cli';

const work = mkdtempSync(join(tmpdir(), 'siglip-allocator-'));
const probe = join(work, 'probe.mjs');
writeFileSync(
  probe,
  "import { appendFileSync } from 'node:fs';\nimport { isMainThread } from 'node:worker_threads';\n" +
    // Preloads run in worker threads too (tsx's loader thread, when the command runs from sources).
    "if (isMainThread) appendFileSync(process.env.PROBE_OUT, JSON.stringify({ pid: process.pid, tunables: process.env.GLIBC_TUNABLES ?? null, argv: process.argv.slice(2) }) + '\\n');\n",
);
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Each start of the process the command ran in, in order. */
function starts(args: string[], extraEnv: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string; starts: Array<{ pid: number; tunables: string | null; argv: string[] }> } {
  const out = join(work, `starts-${Math.random().toString(36).slice(2)}.jsonl`);
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: `--import=${probe}`, PROBE_OUT: out };
  delete env['GLIBC_TUNABLES'];
  Object.assign(env, extraEnv);
  const result = spawnSync(CLI, args, { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 60_000 });
  const lines = readFileSync(out, 'utf8').trim().split('\n');
  return { code: result.status, stdout: result.stdout, starts: lines.map((line) => JSON.parse(line) as { pid: number; tunables: string | null; argv: string[] }) };
}

describe('the allocator settings of the processes that decode images', () => {
  it('embed restarts in place once, with the settings and the same arguments, then runs', () => {
    const run = starts(['embed', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Usage: siglip-batch embed/);
    expect(run.starts.map((s) => s.tunables)).toEqual([null, ALLOCATOR_TUNABLES]);
    expect(run.starts[1]!.pid).toBe(run.starts[0]!.pid);
    expect(run.starts[1]!.argv).toEqual(run.starts[0]!.argv);
    expect(run.starts[0]!.argv).toEqual(['embed', '--help']);
  });

  it('other commands start once, as they are', () => {
    const run = starts(['status', '--help']);
    expect(run.code).toBe(0);
    expect(run.starts.map((s) => s.tunables)).toEqual([null]);
  });

  it('a GLIBC_TUNABLES of the user\'s, even empty, is kept: no restart', () => {
    for (const tunables of ['glibc.malloc.check=0', '']) {
      const run = starts(['embed', '--help'], { GLIBC_TUNABLES: tunables });
      expect(run.code).toBe(0);
      expect(run.starts.map((s) => s.tunables)).toEqual([tunables]);
    }
  });
});
