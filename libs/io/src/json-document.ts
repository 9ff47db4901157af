/**
 * JSON documents in a store, validated with a zod schema on the way in and on the way out (the
 * run folder's documents use the schemas of `@siglip-batch/jobs`: libs/run-format `RunFolder`).
 */
import type { z } from 'zod';
import { InvalidDocumentError } from './invalid-document-error';
import type { ObjectStore } from './object-store';
import { isObjectStoreError } from './object-store-error';

/** Writes `value` as compact JSON (atomic, like every put). Validated first when a schema is given. */
export async function putJson<S extends z.ZodType>(store: ObjectStore, key: string, value: z.input<S>, schema?: S): Promise<void>;
export async function putJson(store: ObjectStore, key: string, value: unknown): Promise<void>;
export async function putJson(store: ObjectStore, key: string, value: unknown, schema?: z.ZodType): Promise<void> {
  let document = value;
  if (schema) {
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new InvalidDocumentError(store.uriOf(key), `refusing to write it: ${issuesLine(parsed.error)}`);
    document = parsed.data;
  }
  await store.put(key, Buffer.from(`${JSON.stringify(document)}\n`), { contentType: 'application/json' });
}

/** The parsed document, or undefined when there is no object at `key`. */
export async function getJson<S extends z.ZodType>(store: ObjectStore, key: string, schema: S): Promise<z.output<S> | undefined> {
  let bytes: Buffer;
  try {
    bytes = await store.get(key, { allowEmpty: true });
  } catch (error) {
    if (isObjectStoreError(error, 'not_found')) return undefined;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new InvalidDocumentError(store.uriOf(key), `not JSON (${(error as Error).message})`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new InvalidDocumentError(store.uriOf(key), issuesLine(parsed.error));
  return parsed.data;
}

/** `objects: Too small: …; shard: Required` (as libs/jobs `errorMessage` writes a zod error). */
function issuesLine(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ` : ''}${issue.message}`).join('; ');
}
