import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * A worker thread's entry: the TypeScript source `./<name>.thread.ts` beside this file (source
 * checkouts), else the bundled `<name>.thread.mjs` the build writes beside the app's main file.
 * A worker does not inherit the tsx loader of the thread that starts it, and Node 20 does not
 * apply `--import tsx` from a worker's execArgv before its entry, so the source is started
 * through a small bootstrap module that registers tsx first.
 */
export function threadEntry(name: string): URL {
  const source = new URL(`./${name}.thread.ts`, import.meta.url);
  if (!existsSync(fileURLToPath(source))) return new URL(`./${name}.thread.mjs`, import.meta.url);
  const tsxApi = pathToFileURL(resolveEsmExport('tsx', './esm/api')).href;
  const bootstrap =
    `import { register } from ${JSON.stringify(tsxApi)};\n` +
    `register();\n` +
    `await import(${JSON.stringify(source.href)});\n`;
  return new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`);
}

/** The file of a package's ESM export (`require.resolve` would give its CommonJS one). */
function resolveEsmExport(name: string, subpath: string): string {
  const manifestPath = createRequire(import.meta.url).resolve(`${name}/package.json`);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { exports?: Record<string, unknown> };
  const entry = manifest.exports?.[subpath] as { import?: string | { default?: string } } | undefined;
  const target = typeof entry?.import === 'string' ? entry.import : entry?.import?.default;
  if (!target) throw new Error(`${name} has no ESM export ${subpath}`);
  return join(dirname(manifestPath), target);
}
