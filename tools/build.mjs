#!/usr/bin/env node
// `nx build <project>`: bundles a project's TypeScript into ESM under dist/<project root> (apps:
// runnable `main.mjs` for container images and the installed `siglip-batch` command; libs:
// `index.mjs`). npm packages stay external: native addons (sharp, onnxruntime-node, duckdb) must
// come from node_modules. An app bundles the few plain-JavaScript packages every command loads
// at start-up (`BUNDLED_PACKAGES`): loaded from node_modules they are dozens of ES modules to
// resolve, read and link (zod alone is ~50, ~0.1 s of CPU) before any work.
import { build } from 'esbuild';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { directLibImports } from './direct-lib-imports.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const projectRoot = process.argv[2];
if (!projectRoot || !existsSync(join(root, projectRoot, 'project.json'))) {
  console.error('usage: node tools/build.mjs <project root, e.g. apps/worker>');
  process.exit(2);
}
const isApp = projectRoot.startsWith('apps/');
/** Packages an app bundles instead of importing from node_modules: pure JavaScript with no dependencies of their own (so nothing a bundled copy imports can resolve differently from dist/), on every command's start-up path. */
const BUNDLED_PACKAGES = new Set(['zod', 'commander']);
const src = join(root, projectRoot, 'src');
// An app's entry plus the worker-thread entries it starts by path, flat beside main.mjs: a
// thread file is found as `./<name>.thread.mjs` next to the bundle (see libs/model's session).
const threadEntries = [...findThreadEntries(src), ...(isApp ? findThreadEntries(join(root, 'libs')) : [])];
const entryPoints = isApp
  ? [{ in: join(src, 'main.ts'), out: 'main' }, ...threadEntries.map((path) => ({ in: path, out: basename(path, '.ts') }))]
  : [{ in: join(src, 'index.ts'), out: 'index' }];
const outdir = join(root, 'dist', projectRoot);
const libEntries = Object.fromEntries(
  ['jobs', 'io', 'run-format', 'model', 'pipeline', 'retrieval'].map((lib) => [`@siglip-batch/${lib}`, join(root, `libs/${lib}/src/index.ts`)]),
);
// The lib indexes the plugin read: inputs of the bundle although no module of it imports them.
const consultedIndexes = new Set();
const startedAt = Date.now();
const result = await build({
  absWorkingDir: root,
  entryPoints,
  outdir,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  // An app's dynamic imports become chunks of their own, flat beside main.mjs, so that a
  // subcommand's modules (and the npm packages they import) load only when it runs.
  splitting: isApp,
  chunkNames: 'chunk-[hash]',
  // Class and function names as in the sources (errors name themselves after their class).
  keepNames: true,
  metafile: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // Every npm package is external but those an app bundles (see BUNDLED_PACKAGES).
  ...(isApp ? {} : { packages: 'external' }),
  sourcemap: true,
  logLevel: 'info',
  // Workspace libs are bundled in; only registry packages stay external.
  alias: {
    '@siglip-batch/jobs': join(root, 'libs/jobs/src/index.ts'),
    '@siglip-batch/io': join(root, 'libs/io/src/index.ts'),
    // On every command's start-up path: entries of their own, so that main.mjs reaches no lib's
    // index (see direct-lib-imports.mjs for what an index brings into a chunk).
    '@siglip-batch/io/secret-redaction': join(root, 'libs/io/src/secret-redaction.ts'),
    '@siglip-batch/jobs/error-message': join(root, 'libs/jobs/src/error-message.ts'),
    '@siglip-batch/pipeline/start-up-errors': join(root, 'libs/pipeline/src/start-up-errors.ts'),
    '@siglip-batch/model/inference-prestart': join(root, 'libs/model/src/inference-prestart.ts'),
    '@siglip-batch/run-format': join(root, 'libs/run-format/src/index.ts'),
    '@siglip-batch/model': join(root, 'libs/model/src/index.ts'),
    '@siglip-batch/pipeline': join(root, 'libs/pipeline/src/index.ts'),
    '@siglip-batch/retrieval': join(root, 'libs/retrieval/src/index.ts'),
  },
  // A lib's index is gone around: each chunk imports the modules that define what it uses.
  plugins: isApp ? [directLibImports(libEntries, consultedIndexes), externalPackagesBut(BUNDLED_PACKAGES)] : [],
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
});

// Chunks of earlier builds (their names are content hashes) go; the rest is overwritten.
const written = new Set(Object.keys(result.metafile.outputs).map((path) => join(root, path)));
for (const entry of readdirSync(outdir)) {
  if (/\.mjs(\.map)?$/.test(entry) && !written.has(join(outdir, entry))) rmSync(join(outdir, entry));
}
// What the bundle was built from, and when: tools/run-app.mjs runs a checkout's sources instead of
// a bundle that any of them is newer than. A bundled package stands for its files by the lockfile
// (`npm ci` rewrites it), so the command does not stat a hundred files of node_modules at start.
const inputs = [
  ...new Set([
    ...Object.keys(result.metafile.inputs).filter((path) => !path.startsWith('node_modules/')),
    ...(Object.keys(result.metafile.inputs).some((path) => path.startsWith('node_modules/')) ? ['package-lock.json'] : []),
    ...[...consultedIndexes].map((path) => relative(root, path)),
    relative(root, fileURLToPath(import.meta.url)),
    relative(root, fileURLToPath(new URL('./direct-lib-imports.mjs', import.meta.url))),
  ]),
];
writeFileSync(join(outdir, 'build-inputs.json'), `${JSON.stringify({ startedAt, inputs: inputs.sort() }, null, 1)}\n`);

function findThreadEntries(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...findThreadEntries(path));
    else if (entry.name.endsWith('.thread.ts')) found.push(path);
  }
  return found;
}

/** Marks every bare import (an npm package, `node:` builtins aside) external unless its package is in `bundled`. */
function externalPackagesBut(bundled) {
  return {
    name: 'external-packages-but',
    setup(builder) {
      builder.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith('node:')) return { path: args.path, external: true };
        // Workspace libs come through the aliases; anything under them is bundled.
        if (args.path.startsWith('@siglip-batch/')) return undefined;
        const parts = args.path.split('/');
        const name = args.path.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
        return bundled.has(name) ? undefined : { path: args.path, external: true };
      });
    },
  };
}
