#!/usr/bin/env node
// `nx build <project>`: bundles a project's TypeScript into one ESM file under dist/<project root>
// (apps: runnable `main.mjs` for container images; libs: `index.mjs`). npm packages stay external:
// native addons (sharp, onnxruntime-node, duckdb) must come from node_modules.
import { build } from 'esbuild';
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const projectRoot = process.argv[2];
if (!projectRoot || !existsSync(join(root, projectRoot, 'project.json'))) {
  console.error('usage: node tools/build.mjs <project root, e.g. apps/worker>');
  process.exit(2);
}
const isApp = projectRoot.startsWith('apps/');
const src = join(root, projectRoot, 'src');
// An app's entry plus the worker-thread entries it starts by path, flat beside main.mjs: a
// thread file is found as `./<name>.thread.mjs` next to the bundle (see libs/model's session).
const threadEntries = [...findThreadEntries(src), ...(isApp ? findThreadEntries(join(root, 'libs')) : [])];
const entryPoints = isApp
  ? [{ in: join(src, 'main.ts'), out: 'main' }, ...threadEntries.map((path) => ({ in: path, out: basename(path, '.ts') }))]
  : [{ in: join(src, 'index.ts'), out: 'index' }];
await build({
  entryPoints,
  outdir: join(root, 'dist', projectRoot),
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  sourcemap: true,
  logLevel: 'info',
  // Workspace libs are bundled in; only registry packages stay external.
  alias: {
    '@siglip-batch/jobs': join(root, 'libs/jobs/src/index.ts'),
    '@siglip-batch/io': join(root, 'libs/io/src/index.ts'),
    '@siglip-batch/model': join(root, 'libs/model/src/index.ts'),
    '@siglip-batch/pipeline': join(root, 'libs/pipeline/src/index.ts'),
  },
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
});

function findThreadEntries(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...findThreadEntries(path));
    else if (entry.name.endsWith('.thread.ts')) found.push(path);
  }
  return found;
}
