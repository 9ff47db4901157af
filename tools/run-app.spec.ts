import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import module from 'node:module';
import { spawnSync } from 'node:child_process';
import { ALLOCATOR_TUNABLES, allocatorRestartEnv, chooseEntry, shareCompileCache } from './run-app.mjs';

const APP = 'apps/producer';
const BUILT_AT = Date.parse('2026-01-01T00:00:00Z');
let root: string;

function write(path: string, text = '', mtimeMs = BUILT_AT - 60_000): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
  utimesSync(join(root, path), mtimeMs / 1000, mtimeMs / 1000);
}

/** A checkout whose bundle was built at BUILT_AT from main.ts and program.ts. */
function checkoutWithBundle(): void {
  write(`${APP}/src/main.ts`);
  write(`${APP}/src/program.ts`);
  write(`dist/${APP}/main.mjs`, '', BUILT_AT + 1_000);
  write(`dist/${APP}/build-inputs.json`, JSON.stringify({ startedAt: BUILT_AT, inputs: [`${APP}/src/main.ts`, `${APP}/src/program.ts`] }));
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'run-app-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('which entry the siglip-batch bin runs', () => {
  it('runs a checkout from its bundle while no file the bundle was built from has changed', () => {
    checkoutWithBundle();
    expect(chooseEntry(root, APP, {})).toBe('bundle');
  });

  it('runs a checkout from its sources when one of them changed after the build, or is gone', () => {
    checkoutWithBundle();
    write(`${APP}/src/program.ts`, 'edited', BUILT_AT + 5_000);
    expect(chooseEntry(root, APP, {})).toBe('source');
    checkoutWithBundle();
    rmSync(join(root, APP, 'src/program.ts'));
    expect(chooseEntry(root, APP, {})).toBe('source');
  });

  it('runs a checkout from its sources when it was never built (right after npm ci), or the build left no input list', () => {
    write(`${APP}/src/main.ts`);
    expect(chooseEntry(root, APP, {})).toBe('source');
    checkoutWithBundle();
    rmSync(join(root, 'dist', APP, 'build-inputs.json'));
    expect(chooseEntry(root, APP, {})).toBe('source');
  });

  it('runs an installed package (no sources) from its bundle, and says so when that is missing', () => {
    write(`dist/${APP}/main.mjs`);
    expect(chooseEntry(root, APP, {})).toBe('bundle');
    rmSync(join(root, 'dist'), { recursive: true });
    expect(() => chooseEntry(root, APP, {})).toThrow(/neither .*main\.mjs nor .*main\.ts exists/);
  });

  it('follows SIGLIP_BATCH_RUN_FROM, and refuses a value it does not know or an entry that is not there', () => {
    checkoutWithBundle();
    expect(chooseEntry(root, APP, { SIGLIP_BATCH_RUN_FROM: 'source' })).toBe('source');
    write(`${APP}/src/program.ts`, 'edited', BUILT_AT + 5_000);
    expect(chooseEntry(root, APP, { SIGLIP_BATCH_RUN_FROM: 'bundle' })).toBe('bundle');
    expect(() => chooseEntry(root, APP, { SIGLIP_BATCH_RUN_FROM: 'tsx' })).toThrow(/must be bundle or source/);
    rmSync(join(root, 'dist'), { recursive: true });
    expect(() => chooseEntry(root, APP, { SIGLIP_BATCH_RUN_FROM: 'bundle' })).toThrow(/npm run build/);
  });
});

describe("the bundle's compile cache, shared with worker threads", () => {
  // Node ≥ 22.1 (the project's Node 24); this @types/node does not declare them yet.
  type Statuses = Record<'ENABLED' | 'DISABLED' | 'FAILED' | 'ALREADY_ENABLED', number>;
  const { ENABLED, DISABLED, FAILED, ALREADY_ENABLED } = (module as unknown as { constants: { compileCacheStatus: Statuses } }).constants.compileCacheStatus;

  it('names the directory it enabled, for the threads the app starts', () => {
    const env: Record<string, string | undefined> = {};
    shareCompileCache({ status: ENABLED, directory: '/tmp/cache' }, env);
    expect(env.NODE_COMPILE_CACHE).toBe('/tmp/cache');
  });

  it('names nothing when the cache is off, failed, or is named already', () => {
    for (const cache of [{ status: DISABLED, message: 'Disabled by NODE_DISABLE_COMPILE_CACHE' }, { status: FAILED, message: 'EACCES' }, undefined]) {
      const env: Record<string, string | undefined> = {};
      shareCompileCache(cache, env);
      expect(env).toEqual({});
    }
    const env: Record<string, string | undefined> = { NODE_COMPILE_CACHE: '/mine' };
    shareCompileCache({ status: ALREADY_ENABLED, directory: '/mine' }, env);
    shareCompileCache({ status: ENABLED, directory: '/other' }, env);
    expect(env).toEqual({ NODE_COMPILE_CACHE: '/mine' });
  });
});

describe('the allocator settings a process that decodes images restarts with', () => {
  const argv = (...args: string[]) => ['node', 'bin/siglip-batch.mjs', ...args];

  it('asks for a restart of `embed` and `worker`, and of the worker app, on Linux with glibc, when GLIBC_TUNABLES is not set', () => {
    for (const [app, args] of [
      ['apps/producer', ['embed', '--source', 'photos']],
      ['apps/producer', ['worker', '--model', 'm']],
      ['apps/worker', ['--model', 'm']],
    ] as const) {
      const env = allocatorRestartEnv(app, argv(...args), { PATH: '/bin', HOME: '/home/u' }, () => 'glibc');
      expect(env, `${app} ${args.join(' ')}`).toEqual({ PATH: '/bin', HOME: '/home/u', GLIBC_TUNABLES: ALLOCATOR_TUNABLES });
    }
  });

  it('leaves every other command, another C library, and a GLIBC_TUNABLES already set (even empty) as they are', () => {
    const glibc = () => 'glibc' as const;
    expect(allocatorRestartEnv('apps/producer', argv('status', 'run-1'), {}, glibc)).toBeUndefined();
    expect(allocatorRestartEnv('apps/producer', argv(), {}, glibc)).toBeUndefined();
    expect(allocatorRestartEnv('apps/producer', argv('embed'), {}, () => 'other')).toBeUndefined();
    expect(allocatorRestartEnv('apps/producer', argv('embed'), { GLIBC_TUNABLES: 'glibc.malloc.check=0' }, glibc)).toBeUndefined();
    expect(allocatorRestartEnv('apps/producer', argv('embed'), { GLIBC_TUNABLES: '' }, glibc)).toBeUndefined();
    // Nothing to decide for other commands: the C library is not even looked up.
    expect(allocatorRestartEnv('apps/producer', argv('status'), {}, () => { throw new Error('looked up'); })).toBeUndefined();
  });

  it('is read by this machine\'s glibc as meant: huge pages, and freed memory kept rather than handed back', () => {
    // The dynamic loader prints the tunables it read (glibc ≥ 2.33); it is named in Node's report.
    const loader = process.report.getReport() as unknown as { sharedObjects: string[] };
    const ld = loader.sharedObjects.find((path) => /\/ld-linux[^/]*\.so/.test(path));
    expect(ld, 'the dynamic loader among the shared objects').toBeDefined();
    const listed = spawnSync(ld!, ['--list-tunables'], { env: { GLIBC_TUNABLES: ALLOCATOR_TUNABLES }, encoding: 'utf8' });
    expect(listed.status, listed.stderr).toBe(0);
    const value = (name: string) => Number(new RegExp(`^glibc\\.malloc\\.${name}: (0x[0-9a-f]+|\\d+)`, 'm').exec(listed.stdout)?.[1]);
    expect({ hugetlb: value('hugetlb'), mmap: value('mmap_threshold'), trim: value('trim_threshold'), topPad: value('top_pad') }).toEqual({
      hugetlb: 1,
      mmap: 32 * 1024 * 1024,
      trim: 256 * 1024 * 1024,
      topPad: 32 * 1024 * 1024,
    });
  });
});
