/**
 * The README's runnable examples: fenced blocks whose info string carries a `test:<name>` tag
 * (```` ```python test:faiss ````), read from one section of README.md, so that what the README
 * shows is what a test runs. Blocks sharing a name run in order, as one example.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './cli';

export interface ReadmeBlock {
  /** The info string's language (`sql`, `python`, `sh`, `js`). */
  lang: string;
  /** The `test:<name>` tag; undefined for an untagged block. */
  name: string | undefined;
  code: string;
}

/** The text of `## <heading>` up to the next `## ` heading. */
export function readmeSection(heading: string, readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')): string {
  const start = readme.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README.md has no "## ${heading}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** Every fenced block of `markdown`, tagged or not. */
export function fencedBlocks(markdown: string): ReadmeBlock[] {
  const blocks: ReadmeBlock[] = [];
  for (const match of markdown.matchAll(/^```([^\n]*)\n([\s\S]*?)^```$/gm)) {
    const [lang = '', ...words] = match[1]!.trim().split(/\s+/);
    const tag = words.find((word) => word.startsWith('test:'));
    blocks.push({ lang, name: tag?.slice('test:'.length), code: match[2]! });
  }
  return blocks;
}

export interface ExampleOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command` with `stdin` as its input, in the repository root (where `npx siglip-batch` resolves). */
export function runWithInput(command: string, args: string[], stdin: string, env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<ExampleOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, cwd: REPO_ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} timed out after ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

export const EXAMPLES_PYTHON_MODULES = ['pyarrow', 'faiss', 'numpy'] as const;

let checkedPython: string | undefined;

/**
 * The Python the examples run with: `SIGLIP_EXAMPLES_PYTHON` (CI sets it from
 * `tools/python/ensure-venv.sh`), else the repository's `.venv/`. Throws, saying what to do,
 * when that interpreter is missing or lacks a module: the examples are never skipped.
 */
export function examplesPython(): string {
  if (checkedPython) return checkedPython;
  const fromEnv = process.env['SIGLIP_EXAMPLES_PYTHON'];
  const python = fromEnv || join(REPO_ROOT, '.venv', 'bin', 'python');
  const check = spawnSync(python, ['-c', `import ${EXAMPLES_PYTHON_MODULES.join(', ')}`], { encoding: 'utf8', timeout: 60_000 });
  if (check.error || check.status !== 0) {
    const why = check.error ? check.error.message : check.stderr.trim().split('\n').at(-1);
    throw new Error(
      `no Python with ${EXAMPLES_PYTHON_MODULES.join(', ')} for the README's examples: ${python} ` +
        `(${fromEnv ? 'SIGLIP_EXAMPLES_PYTHON' : 'SIGLIP_EXAMPLES_PYTHON is unset, so .venv/bin/python'}) failed: ${why}. ` +
        'Run `bash tools/python/ensure-venv.sh` and set SIGLIP_EXAMPLES_PYTHON to the path it prints.',
    );
  }
  checkedPython = python;
  return python;
}

export interface Hit {
  score: number;
  uri: string;
}

/** Parses the `score  uri` lines the examples print; a line of another shape is an error. */
export function parseHits(stdout: string): Hit[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const match = /^(-?\d+(?:\.\d+)?) {2}(\S.*)$/.exec(line);
      if (!match) throw new Error(`not a "score  uri" line: ${JSON.stringify(line)}`);
      return { score: Number(match[1]), uri: match[2]! };
    });
}
