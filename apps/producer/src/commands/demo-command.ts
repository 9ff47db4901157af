import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';

/**
 * The sample files of `siglip-batch demo`, relative to the package root. The package ships
 * exactly these (package.json `files`; demo-command.spec.ts checks it), so that the demo works the
 * same from a checkout and from an installed package.
 */
export const DEMO_FILES: readonly string[] = [
  'fixtures/images/astronaut_baseline.jpg',
  'fixtures/images/chelsea.webp',
  'fixtures/images/coffee_exif8.jpg',
  'fixtures/images/coins_grey_alpha.png',
  'fixtures/images/moon_grey.jpg',
  'fixtures/images/motorcycle_exif6.jpg',
  'fixtures/images/rocket_exif3.jpg',
  'fixtures/images-broken/corrupt.jpg',
];
/** The tiny random-initialised SigLIP of the test fixtures, shipped in the package too. */
export const DEMO_MODEL = 'fixtures/models/tiny-siglip';
const DEMO_LABELS = ['cat', 'dog', 'astronaut', 'rocket', 'coffee', 'moon', 'motorcycle', 'coins', 'person', 'landscape'];

interface DemoOptions {
  out: string;
  model?: string;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'embed a few sample images shipped with siglip-batch (and one broken file) in one process, without ' +
        'Redis or S3: the `embed` command with the tiny random-initialised test model (its labels are ' +
        'meaningless) or --model, then the run summary and the top tags per image',
    )
    .option('--out <dir>', 'directory for the sample images (<out>/images) and the run folder (<out>/runs/<run>)', 'siglip-batch-demo')
    .option('--model <dir>', 'model directory (default: the tiny test model shipped with siglip-batch)')
    .action(async (options: DemoOptions) => {
      process.exitCode = await runDemo(options);
    });
}

async function runDemo(options: DemoOptions): Promise<number> {
  const root = packageRoot();
  const out = resolve(options.out);
  const images = join(out, 'images');
  const runs = join(out, 'runs');
  const missing = [...DEMO_FILES, ...(options.model === undefined ? [DEMO_MODEL] : [])].filter((file) => !existsSync(join(root, file)));
  if (missing.length > 0) throw new Error(`the demo's files are not in this installation (${root}): ${missing.join(', ')}; give --model and your own images to \`siglip-batch embed\``);
  await mkdir(images, { recursive: true });
  for (const file of DEMO_FILES) {
    const name = file.startsWith('fixtures/images-broken/') ? `broken-${basename(file)}` : basename(file);
    await copyFile(join(root, file), join(images, name));
  }
  const model = options.model ?? join(root, DEMO_MODEL);
  if (options.model === undefined) {
    say('Model: the tiny RANDOM-initialised SigLIP of the test fixtures: its embeddings are deterministic, its labels and tags MEANINGLESS.');
    say('       For real results give --model a directory exported with tools/export (see the README).');
  }
  const runId = `demo-${new Date().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-')}`;
  const args = ['embed', '--source', images, '--out', runs, '--model', model, '--labels', DEMO_LABELS.join(','), '--run', runId];
  say(`Sample images: ${DEMO_FILES.length} files in ${images} (one of them broken)`);
  say(`\n$ siglip-batch ${args.join(' ')}`);
  // Exactly the `embed` command, run in this process.
  const { registerEmbedCommand } = await import('./embed-command');
  const embed = new Command('siglip-batch');
  registerEmbedCommand(embed);
  await embed.parseAsync(args, { from: 'user' });
  const code = typeof process.exitCode === 'number' ? process.exitCode : 0;
  if (code !== 0) return code;
  await showRun(join(runs, runId));
  return 0;
}

/** The run's rows: top tags per image and the error rows, read back with DuckDB. */
async function showRun(folder: string): Promise<void> {
  // The run's file list is its file table (named by the manifest), read by DuckDB itself.
  const manifest = JSON.parse(await readFile(join(folder, '_manifest.json'), 'utf8')) as { files: { key: string } };
  const quote = (text: string) => `'${text.replace(/'/g, "''")}'`;
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    const show = async (title: string, sql: string) => {
      say(`\n${title}`);
      for (const row of (await connection.runAndReadAll(sql)).getRowObjectsJson()) say(`  ${JSON.stringify(row)}`);
    };
    const filesOf = async (kind: 'part' | 'errors') => {
      await connection.run(
        `SET VARIABLE ${kind}_files = (SELECT list(${quote(`${folder}/`)} || key) FROM read_parquet(${quote(join(folder, manifest.files.key))}) WHERE kind = '${kind}' AND rows > 0)`,
      );
      return Number((await connection.runAndReadAll(`SELECT coalesce(len(getvariable('${kind}_files')), 0)::INTEGER AS n`)).getRowObjectsJson()[0]!['n']);
    };
    if ((await filesOf('part')) > 0) {
      await show(
        'Top tags per image:',
        `SELECT regexp_extract(uri, '[^/]+$') AS image, tags[1:3] AS top_tags, round(list_max(scores)::DOUBLE, 3) AS best_score FROM read_parquet(getvariable('part_files')) ORDER BY uri`,
      );
    }
    if ((await filesOf('errors')) > 0) {
      await show('Error rows:', `SELECT regexp_extract(uri, '[^/]+$') AS object, error_code FROM read_parquet(getvariable('errors_files')) ORDER BY uri`);
    }
  } finally {
    connection.closeSync();
    db.closeSync();
  }
  say(`\nRun folder: ${folder} (Parquet part and errors files, _manifest.json and the file table it names, _manifest/files.parquet)`);
}

/** The directory of the `siglip-batch` package: a checkout's root or the installed package's. */
export function packageRoot(from: string = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'siglip-batch') return dir;
    if (dirname(dir) === dir) throw new Error(`cannot find the siglip-batch package above ${from}`);
  }
}

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}
