/**
 * Where a local path really leads, symlinks resolved: what an allow check must look at, since a
 * symlink inside an allowed directory may point anywhere on the machine.
 */
import { realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface RealPath {
  /** The absolute path with every symlink resolved (for a missing file: where it would be). */
  path: string;
  /** False when nothing is there: no file, or a symlink that leads nowhere. */
  exists: boolean;
}

/**
 * `realpath(3)` of `path`. For a missing file (or a dangling symlink) the deepest ancestor that
 * exists is resolved and the rest appended, so that the answer still says which directory the
 * path is under. Errors other than "not there" (EACCES, ELOOP, EIO …) are thrown.
 */
export async function realPathOf(path: string): Promise<RealPath> {
  try {
    return { path: await realpath(path), exists: true };
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
  const tail: string[] = [];
  let current = path;
  for (;;) {
    const parent = dirname(current);
    if (parent === current) return { path, exists: false };
    tail.unshift(basename(current));
    current = parent;
    try {
      return { path: join(await realpath(current), ...tail), exists: false };
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
