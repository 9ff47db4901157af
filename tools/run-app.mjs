// Runs an app (apps/producer, apps/worker) from its esbuild bundle when that is current, else from
// its TypeScript sources through tsx. Used by the apps' bin scripts (`siglip-batch`,
// `siglip-batch-worker`):
// - an installed package (`npm pack`, then `npm i -g`) has no sources: always the bundle;
// - a checkout runs the bundle (dist/<app>/main.mjs, from `npm run build`) when no file it was
//   built from has changed since, else the sources: right after `npm ci`, or after an edit, the
//   command works unbuilt (slower to start), never from a stale bundle.
// SIGLIP_BATCH_RUN_FROM=bundle or =source forces one of the two (the start-up bench compares them).
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

/** Imports the app's entry: its bundle, or its sources with tsx registered first. */
export async function runApp(root, app) {
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
