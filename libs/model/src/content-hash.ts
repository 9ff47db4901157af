import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

/** The top-level files covered by the content hash (besides everything under `onnx/`). */
export const HASHED_TOP_FILES = ['config.json', 'preprocessor_config.json', 'tokenizer.json'] as const;

/**
 * The files a model directory's content hash covers, as relative POSIX paths sorted by their
 * UTF-8 bytes: the three top-level JSON files that exist and every file under `onnx/`
 * (external data included), recursively.
 */
export async function hashedFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const name of HASHED_TOP_FILES) {
    if (await isFile(join(dir, name))) files.push(name);
  }
  const walk = async (folder: string): Promise<void> => {
    const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile() || (entry.isSymbolicLink() && (await isFile(path)))) files.push(relative(dir, path).split(sep).join('/'));
    }
  };
  await walk(join(dir, 'onnx'));
  return files.sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}

/**
 * The model directory's content hash, as the export tool computes it (tools/export/README.md):
 * sha256 over `relpath + "\0" + sha256hex(file) + "\n"` for each of `hashedFiles(dir)`.
 * Reads every weight file once, as a stream.
 */
export async function computeContentHash(dir: string): Promise<string> {
  const outer = createHash('sha256');
  for (const rel of await hashedFiles(dir)) {
    const inner = createHash('sha256');
    for await (const chunk of createReadStream(join(dir, rel), { highWaterMark: 1 << 20 })) inner.update(chunk as Buffer);
    outer.update(`${rel}\0${inner.digest('hex')}\n`, 'utf8');
  }
  return outer.digest('hex');
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}
