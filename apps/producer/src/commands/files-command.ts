import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { Option } from 'commander';
import { openRunFolder, runFiles, type RunFolder } from '@siglip-batch/run-format';
import type { RunManifest } from '@siglip-batch/jobs';
import { addConnectionOptions, s3OptionsOf, type ConnectionOptions } from '../shared/connections';
import { CliError, EXIT } from '../shared/exit-codes';

export const FILE_KINDS = ['part', 'errors', 'deletions', 'labels', 'table'] as const;
export type FileKind = (typeof FILE_KINDS)[number];

interface FilesCliOptions extends ConnectionOptions {
  run: string;
  kind: FileKind;
  json?: boolean;
}

export interface ListedFile {
  /** `s3://…` for S3 runs, an absolute path for local ones (what DuckDB, pyarrow and pandas open). */
  uri: string;
  kind: FileKind;
  /** Rows, as the run's file table records them (the labels file: none recorded; the table: its own rows). */
  rows: number | null;
  /** The shard whose rows the file starts with (part and errors files). */
  shard: number | null;
}

/**
 * `siglip-batch files --run <run folder>`: the files a finalised run's manifest lists, one per
 * line — the exact list, for tools that take a list of files (DuckDB `read_parquet([...])`,
 * `pyarrow.dataset([...])`, FAISS/autofaiss scripts) without parsing `_manifest.json`.
 */
export function registerFilesCommand(program: Command): void {
  const command = program
    .command('files')
    .description("print the files a finished run's manifest lists (one path or URI a line; --json: one JSON object a line)")
    .requiredOption('--run <uri>', 'run folder, e.g. s3://bucket/out/run-a/ or ./out/run-a')
    .addOption(new Option('--kind <kind>', 'which files').choices(FILE_KINDS).default('part'))
    .option('--json', 'NDJSON: {"uri", "kind", "rows", "shard"} per file');
  addConnectionOptions(command, false).action(async (options: FilesCliOptions) => {
    const folder = openRunFolder(options.run, s3OptionsOf(options));
    try {
      const manifest = await folder.readManifest();
      if (!manifest) {
        throw new CliError(
          `${folder.uriOf('')} has no _manifest.json: the run is not finalised (or this is not a run folder), so no list of its files is final yet`,
          EXIT.failure,
          'not_finalised',
        );
      }
      await writeLines(
        (async function* () {
          for await (const file of listRunFiles(folder, manifest, options.kind)) yield options.json ? JSON.stringify(file) : file.uri;
        })(),
      );
      process.exitCode = EXIT.ok;
    } finally {
      folder.store.close();
    }
  });
}

/**
 * The files of one kind a manifest lists, in shard order, streamed from the run's file table;
 * `table` is that table itself (`_manifest/files*.parquet`; none for runs finalised before it).
 */
export async function* listRunFiles(folder: RunFolder, manifest: RunManifest, kind: FileKind): AsyncGenerator<ListedFile> {
  const local = folder.uriOf('').startsWith('file:');
  const uriOf = (key: string) => (local ? fileURLToPath(folder.uriOf(key)) : folder.uriOf(key));
  switch (kind) {
    case 'part':
    case 'errors':
      for await (const file of runFiles(folder, manifest, { kind })) yield { uri: uriOf(file.key), kind, rows: file.rows, shard: file.shard };
      return;
    case 'deletions':
      for await (const file of runFiles(folder, manifest, { kind })) yield { uri: uriOf(file.key), kind, rows: file.rows, shard: null };
      return;
    case 'table':
      if (manifest.files) yield { uri: uriOf(manifest.files.key), kind, rows: manifest.files.rows, shard: null };
      return;
    case 'labels':
      if (manifest.labelsFile) yield { uri: uriOf(manifest.labelsFile), kind, rows: null, shard: null };
      return;
  }
}

/** Writes lines as they come, waiting when stdout is full; a closed pipe (`| head`) ends quietly. */
async function writeLines(lines: AsyncIterable<string>): Promise<void> {
  const out = process.stdout;
  let failure: NodeJS.ErrnoException | undefined;
  // Kept for the process's life: a write still pending when the command returns may fail later.
  out.on('error', (error: NodeJS.ErrnoException) => (failure ??= error));
  let chunk = '';
  for await (const line of lines) {
    if (failure) break;
    chunk += `${line}\n`;
    if (chunk.length < 64 * 1024) continue;
    if (!out.write(chunk)) await Promise.race([once(out, 'drain'), once(out, 'close')]);
    chunk = '';
  }
  if (chunk && !failure) out.write(chunk);
  if (failure && failure.code !== 'EPIPE') throw failure;
}
