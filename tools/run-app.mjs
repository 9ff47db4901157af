// Runs an app (apps/producer, apps/worker) from its esbuild bundle when that is current, else from
// its TypeScript sources through tsx. Used by the apps' bin scripts (`siglip-batch`,
// `siglip-batch-worker`):
// - an installed package (`npm pack`, then `npm i -g`) has no sources: always the bundle;
// - a checkout runs the bundle (dist/<app>/main.mjs, from `npm run build`) when no file it was
//   built from has changed since, else the sources: right after `npm ci`, or after an edit, the
//   command works unbuilt (slower to start), never from a stale bundle.
// SIGLIP_BATCH_RUN_FROM=bundle or =source forces one of the two (the start-up bench compares them).
// Before either, a process that decodes images (`embed`, the worker) restarts itself in place with
// glibc's allocator settings (ALLOCATOR_TUNABLES below) unless GLIBC_TUNABLES is set already.
// Plain JavaScript on purpose: it must run before tsx is there, and without it.
import { existsSync, readFileSync, statSync } from 'node:fs';
import module from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Where the app starts from: 'bundle' or 'source'. Throws when the forced one is missing. */
export function chooseEntry(root, app, env = process.env) {
  const bundle = join(root, 'dist', app, 'main.mjs');
  const source = join(root, app, 'src', 'main.ts');
  const forced = env.SIGLIP_BATCH_RUN_FROM;
  if (forced !== undefined && forced !== '' && forced !== 'bundle' && forced !== 'source') {
    throw new Error(`SIGLIP_BATCH_RUN_FROM must be bundle or source, not ${JSON.stringify(forced)}`);
  }
  if (forced === 'source' && !existsSync(source)) throw new Error(`SIGLIP_BATCH_RUN_FROM=source: ${source} does not exist (an installed package runs its bundle)`);
  if (forced === 'bundle' && !existsSync(bundle)) throw new Error(`SIGLIP_BATCH_RUN_FROM=bundle: ${bundle} does not exist (build it: npm run build)`);
  if (forced) return forced;
  if (!existsSync(source)) {
    if (!existsSync(bundle)) throw new Error(`neither ${bundle} nor ${source} exists: this installation is incomplete`);
    return 'bundle';
  }
  return existsSync(bundle) && bundleIsCurrent(root, app) ? 'bundle' : 'source';
}

/** True when every file the bundle was built from is still there, unchanged since the build began. */
export function bundleIsCurrent(root, app) {
  let built;
  try {
    built = JSON.parse(readFileSync(join(root, 'dist', app, 'build-inputs.json'), 'utf8'));
  } catch {
    return false;
  }
  if (typeof built?.startedAt !== 'number' || !Array.isArray(built.inputs)) return false;
  for (const input of built.inputs) {
    try {
      if (statSync(join(root, input)).mtimeMs > built.startedAt) return false;
    } catch {
      return false; // deleted or renamed since the build
    }
  }
  return true;
}

/**
 * Names the compile cache `module.enableCompileCache()` enabled in `env.NODE_COMPILE_CACHE`: a
 * worker thread (the model's inference and preprocessing threads) starts a Node environment of
 * its own, which takes the cache from that variable only, so their modules (ONNX Runtime, sharp,
 * the thread files) are then cached too (~20–30 ms of CPU less per thread). Nothing is named when
 * the cache is off, could not be enabled (an unwritable directory) or is named already.
 */
export function shareCompileCache(cache, env = process.env) {
  const enabled = module.constants?.compileCacheStatus?.ENABLED;
  if (enabled !== undefined && cache?.status === enabled && cache.directory && !env.NODE_COMPILE_CACHE) env.NODE_COMPILE_CACHE = cache.directory;
}

/**
 * glibc malloc settings for the processes that decode images, as a `GLIBC_TUNABLES` value:
 * - `hugetlb=1`: malloc asks for transparent huge pages (`madvise`) for the memory it maps;
 * - `mmap_threshold` 32 MiB: a decoded image or a pixel batch comes from the heap, not a fresh
 *   mapping of its own each time;
 * - `trim_threshold` 256 MiB, `top_pad` 32 MiB: freed memory is kept for the next image instead of
 *   being handed back to the kernel and faulted in again.
 * Each image's full-resolution pixels, the resized and normalised copies and each batch are
 * megabytes written once into memory the kernel must hand over page by page; on the bench machine
 * (a VM) a page fault costs ~10 µs, and 320 photos took ~105,000 of them. With these, ~30,000:
 * 14 % less CPU and 0.4 s less wall time for the end-to-end row's `embed`, ~20 MB more peak RSS
 * (bench/README.md, issue 18, sixth pass). Container images set the same value (infra/docker).
 */
export const ALLOCATOR_TUNABLES =
  'glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456:glibc.malloc.top_pad=33554432';

/** The `siglip-batch` commands that decode images in their own process (the worker's is another process, restarted the same way). */
const IMAGE_COMMANDS = new Set(['embed', 'worker']);

/**
 * The environment to restart this process with so that glibc reads {@link ALLOCATOR_TUNABLES}
 * (it reads them once, when the process starts), or undefined to go on as it is: another command,
 * not Linux with glibc, or `GLIBC_TUNABLES` already set — by an earlier restart, a container image,
 * or the user (even empty: `GLIBC_TUNABLES=` is how to run with glibc's defaults).
 */
export function allocatorRestartEnv(app, argv = process.argv, env = process.env, libc = runtimeLibc) {
  const decodes = app === 'apps/worker' || (app === 'apps/producer' && IMAGE_COMMANDS.has(argv[2]));
  // The C library last: asking Node for it takes a few milliseconds, spent only when it decides.
  if (!decodes || env.GLIBC_TUNABLES !== undefined || libc() !== 'glibc') return undefined;
  return { ...env, GLIBC_TUNABLES: ALLOCATOR_TUNABLES };
}

/** 'glibc' on Linux with glibc (Node's diagnostic report names its version), else 'other'. */
function runtimeLibc() {
  if (process.platform !== 'linux') return 'other';
  const excludeNetwork = process.report.excludeNetwork;
  process.report.excludeNetwork = true;
  try {
    return process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'other';
  } finally {
    process.report.excludeNetwork = excludeNetwork;
  }
}

/**
 * Restarts this process in place (same pid, same arguments, stdio and Node flags) with
 * {@link allocatorRestartEnv}'s environment, when that asks for it and Node can (`process.execve`,
 * Node ≥ 22.15). Costs one more Node start-up (~70 ms here); `embed` of 320 photos saves ~0.4 s,
 * and even `embed` of one photo is not slower.
 */
function restartWithAllocatorTunables(app) {
  if (typeof process.execve !== 'function' || process.env.GLIBC_TUNABLES !== undefined) return;
  const env = allocatorRestartEnv(app);
  if (env) process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], env);
}

/** Imports the app's entry: its bundle, or its sources with tsx registered first. */
export async function runApp(root, app) {
  restartWithAllocatorTunables(app);
  let from;
  try {
    from = chooseEntry(root, app);
  } catch (error) {
    process.stderr.write(`siglip-batch: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
    return;
  }
  if (from === 'bundle') {
    // V8's compiled code of the bundle and the packages it loads, cached on disk (Node ≥ 22.1;
    // keyed by file contents, in the OS temp dir unless NODE_COMPILE_CACHE names one,
    // NODE_DISABLE_COMPILE_CACHE=1 turns it off): ~0.1 s less CPU at every start-up after the
    // first (bench/README.md, issue 18). Absent on Node 20: nothing changes there.
    shareCompileCache(module.enableCompileCache?.());
    await import(pathToFileURL(join(root, 'dist', app, 'main.mjs')).href);
    return;
  }
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, app, 'src', 'main.ts')).href);
}
