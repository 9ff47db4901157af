/**
 * The packed `siglip-batch` package as a user installs it: `npm run pack` (= `npm pack
 * --ignore-scripts=false`, whose prepack builds the bundles), then `npm i -g` of the tarball into
 * a fresh prefix, with dependencies' install scripts off (onnxruntime-node's would download CUDA
 * libraries), run from a folder outside the checkout.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_FILES, DEMO_MODEL } from '../apps/producer/src/commands/demo-command';
import { chooseEntry } from '../tools/run-app.mjs';
import { REPO_ROOT } from './support/cli';

interface PackageJson {
  version: string;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as PackageJson;
const work = mkdtempSync(join(tmpdir(), 'siglip-package-'));
const prefix = join(work, 'prefix');
const installed = join(prefix, 'lib', 'node_modules', 'siglip-batch');
const command = join(prefix, 'bin', 'siglip-batch');
let packed: string[] = [];
let entriesAfterPack: string[] = [];

/** The installed command, from a folder outside the checkout, with no hint of where the checkout is. */
function run(args: string[], timeout = 120_000) {
  const env = { ...process.env };
  delete env['SIGLIP_BATCH_WORKER_ENTRY'];
  delete env['SIGLIP_BATCH_RUN_FROM'];
  return spawnSync(command, args, { cwd: work, env: { ...env, REDIS_URL: 'redis://127.0.0.1:1' }, encoding: 'utf8', timeout });
}

beforeAll(() => {
  const json = execFileSync('npm', ['run', 'pack', '--silent', '--', '--pack-destination', work, '--json'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [result] = JSON.parse(json.slice(json.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  packed = result!.files.map((file) => file.path);
  // Right after the build, before anything else can touch the checkout.
  entriesAfterPack = [chooseEntry(REPO_ROOT, 'apps/producer', {}), chooseEntry(REPO_ROOT, 'apps/worker', {})];
  // --prefer-offline: the tarballs npm ci already fetched are reused.
  execFileSync('npm', ['i', '-g', '--prefix', prefix, join(work, result!.filename), '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
    cwd: work,
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 300_000,
  });
}, 360_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('npm pack', () => {
  it('builds the bundles first, so that the checkout runs them too (its sources are unchanged since)', () => {
    expect(entriesAfterPack).toEqual(['bundle', 'bundle']);
  });

  it('packs the bin, the bundles, the demo files and the tiny model, and no TypeScript source', () => {
    const modelFiles = readdirSync(join(REPO_ROOT, DEMO_MODEL), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name).slice(REPO_ROOT.length));
    expect(packed).toEqual(
      expect.arrayContaining([pkg.bin['siglip-batch']!, 'tools/run-app.mjs', 'dist/apps/producer/main.mjs', 'dist/apps/worker/main.mjs', 'README.md', ...DEMO_FILES, ...modelFiles]),
    );
    expect(packed.filter((path) => /\.(ts|map)$/.test(path))).toEqual([]);
  });

  it('leaves out no package the bundles import: each is a production dependency (tsx is not needed)', () => {
    const imported = new Set<string>();
    // The bundles: what an installed package runs (tools/run-app.mjs imports tsx only for a
    // checkout whose bundles are missing or stale, never in an install, which ships them).
    for (const path of packed.filter((p) => p.startsWith('dist/') && p.endsWith('.mjs'))) {
      const text = readFileSync(join(installed, path), 'utf8');
      // Static and dynamic imports, and the packages loaded on first use through createRequire
      // (`requireSharp('sharp')`, `requireSdk('@aws-sdk/client-s3')`).
      for (const match of text.matchAll(
        /(?:^|[\s;])(?:import|export)\s[^'"`;]*?\bfrom\s*["']([^"'./][^"']*)["']|\bimport\(\s*["']([^"'./][^"']*)["']\s*\)|^import\s*["']([^"'./][^"']*)["']|\brequire\w*\(\s*["']([^"'./][^"']*)["']\s*\)/gm,
      )) {
        const specifier = match[1] ?? match[2] ?? match[3] ?? match[4];
        if (specifier) imported.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);
      }
    }
    const external = [...imported].filter((name) => !name.startsWith('node:') && !builtinModules.includes(name));
    expect(external).toEqual(expect.arrayContaining(['onnxruntime-node', 'sharp', 'bullmq', '@aws-sdk/client-s3']));
    // Bundled in (tools/build.mjs, BUNDLED_PACKAGES), so never loaded from node_modules.
    expect(external).not.toContain('commander');
    expect(external).not.toContain('zod');
    expect(external.filter((name) => !Object.hasOwn(pkg.dependencies, name))).toEqual([]);
    expect(external).not.toContain('tsx');
  });
});

/** The npm packages a bundle file loads before any of its code runs: its static imports, chunks followed. */
function staticPackages(dir: string, file: string, seen = new Set<string>()): Set<string> {
  const packages = new Set<string>();
  if (seen.has(file)) return packages;
  seen.add(file);
  for (const [, specifier] of readFileSync(join(dir, file), 'utf8').matchAll(/^(?:import|export)\s(?:[^'";]*?\sfrom\s*)?["']([^"']+)["']/gm)) {
    if (specifier!.startsWith('./')) for (const name of staticPackages(dir, specifier!.slice(2), seen)) packages.add(name);
    else if (!specifier!.startsWith('node:')) packages.add(specifier!);
  }
  return packages;
}

describe('start-up of the bundle', () => {
  it('loads no npm package for the top-level help and --version (commander is bundled in; subcommands are chunks of their own)', () => {
    const dir = join(installed, 'dist/apps/producer');
    expect([...staticPackages(dir, 'main.mjs')]).toEqual([]);
    // …while a subcommand's chunk brings its own: the walk does see packages. (sharp, ioredis,
    // the AWS SDK and parquet-wasm are not among them: they load on first use, so a local run never
    // pays for S3 or Redis, and a command compiles parquet-wasm's WebAssembly only if it needs it.)
    const chunks = readdirSync(dir).filter((file) => file.startsWith('chunk-'));
    const all = new Set(chunks.flatMap((chunk) => [...staticPackages(dir, chunk)]));
    expect([...all]).toEqual(expect.arrayContaining(['bullmq', 'cli-progress']));
    // zod and commander are bundled (tools/build.mjs, BUNDLED_PACKAGES): no chunk imports them.
    expect([...all]).not.toContain('zod');
    expect([...all]).not.toContain('commander');
    expect([...all]).not.toContain('@aws-sdk/client-s3');
    expect([...all]).not.toContain('parquet-wasm');
    expect([...all]).not.toContain('ioredis');
    // A subcommand loads what it uses, not all a lib offers: `embed` (one process, no queue)
    // imports @siglip-batch/jobs, whose index also names the shard queue, and loads no BullMQ
    // (tools/direct-lib-imports.mjs).
    const embed = chunks.find((chunk) => /function registerEmbedCommand\(/.test(readFileSync(join(dir, chunk), 'utf8')));
    expect(embed).toBeDefined();
    const embedPackages = [...staticPackages(dir, embed!)];
    expect(embedPackages).toEqual(expect.arrayContaining(['cli-progress']));
    expect(embedPackages).not.toContain('bullmq');
  });
});

describe('the installed siglip-batch', () => {
  it('prints its version and its help, from the bundle', () => {
    const version = run(['--version']);
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe(pkg.version);
    const help = run(['--help']);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: siglip-batch/m);
    expect(help.stdout).toMatch(/^ {2}demo \[options\] /m);
    const embedHelp = run(['embed', '--help']);
    expect(embedHelp.stdout).toContain('\nExample:\n  $ siglip-batch embed ');
    const workerHelp = run(['worker', '--help']);
    expect(workerHelp.status, workerHelp.stderr).toBe(0);
    expect(workerHelp.stdout).toMatch(/^Usage: siglip-batch worker/m);
  });

  it('embeds one image with the tiny model it ships, as transformers does', async () => {
    const images = join(work, 'one-image');
    mkdirSync(images);
    copyFileSync(join(REPO_ROOT, 'fixtures/images/astronaut_baseline.jpg'), join(images, 'astronaut_baseline.jpg'));
    const out = join(work, 'runs');
    const result = run(['embed', '--source', images, '--out', out, '--model', join(installed, DEMO_MODEL), '--run', 'one', '--labels', 'cat,astronaut']);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe(`file://${join(out, 'one')}`);
    const manifest = JSON.parse(readFileSync(join(out, 'one', '_manifest.json'), 'utf8')) as { files: { key: string } };
    const reference = (JSON.parse(readFileSync(join(REPO_ROOT, 'fixtures/reference/tiny-siglip/reference.json'), 'utf8')) as {
      images: Array<{ file: string; embedding: number[] }>;
    }).images.find((image) => image.file === 'astronaut_baseline.jpg')!.embedding;
    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    try {
      // The part files, from the run's file table.
      const listed = (await connection.runAndReadAll(`SELECT key FROM read_parquet('${join(out, 'one', manifest.files.key)}') WHERE kind = 'part'`)).getRowObjectsJS() as Array<{ key: string }>;
      const files = listed.map((part) => `'${join(out, 'one', part.key)}'`).join(', ');
      const rows = (await connection.runAndReadAll(`SELECT uri, embedding, len(scores)::INTEGER AS labels FROM read_parquet([${files}])`)).getRowObjectsJS() as Array<{
        uri: string;
        embedding: number[];
        labels: number;
      }>;
      expect(rows.map((row) => [row.uri.split('/').at(-1), row.labels])).toEqual([['astronaut_baseline.jpg', 2]]);
      const cosine = rows[0]!.embedding.reduce((sum, x, i) => sum + x * reference[i]!, 0);
      expect(rows[0]!.embedding).toHaveLength(reference.length);
      expect(cosine).toBeGreaterThan(0.999);
    } finally {
      connection.closeSync();
      db.closeSync();
    }
  });

  it('runs the demo from what the package ships: sample images, one broken, the tiny model', () => {
    const result = run(['demo', '--out', join(work, 'demo')]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('tiny RANDOM-initialised SigLIP');
    const tagged = result.stdout.split('Top tags per image:')[1]?.split('\n\n')[0] ?? '';
    const images = DEMO_FILES.filter((file) => file.startsWith('fixtures/images/')).map((file) => file.split('/').at(-1)!);
    for (const image of images) expect(tagged).toContain(`"image":"${image}"`);
    expect(tagged.trim().split('\n')).toHaveLength(images.length);
    expect(result.stdout).toMatch(/"object":"broken-corrupt\.jpg","error_code":"decode_failed"/);
    expect(result.stderr).toContain(`${DEMO_FILES.length} objects, ${images.length} embedded, 1 errors`);
  });
});
