/** Reading a model directory's files, every problem collected rather than thrown (see `loadModelDir`). */
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';

export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export async function readText(dir: string, name: string, problems: string[]): Promise<string | undefined> {
  try {
    return await readFile(join(dir, name), 'utf8');
  } catch (error) {
    problems.push((error as NodeJS.ErrnoException).code === 'ENOENT' ? `missing ${name}` : `cannot read ${name}: ${(error as Error).message}`);
    return undefined;
  }
}

export async function readJson(dir: string, name: string, problems: string[]): Promise<unknown> {
  const text = await readText(dir, name, problems);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    problems.push(`${name}: not valid JSON (${(error as Error).message})`);
    return undefined;
  }
}

export function parseWith<T extends z.ZodType>(schema: T, value: unknown, file: string, problems: string[]): z.output<T> | undefined {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) problems.push(`${file}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  return undefined;
}

/**
 * A value (a zod schema) built the first time it is asked for rather than at import: zod builds a
 * schema's objects when its `z.object(…)` runs, and the model's schemas took ~60 ms of start-up in
 * commands that never load a model. (libs/jobs has its own `lazySchema`; this lib cannot import it.)
 */
export function builtOnce<T>(build: () => T): () => T {
  let built: T | undefined;
  return () => (built ??= build());
}
