/**
 * `--model s3://bucket/models/x/`: a model folder in S3, downloaded once per machine into a
 * local cache and verified by its content hash.
 *
 * The cache entry is `<root>/<content hash>/`, named after the hash the model's sidecar
 * (`siglip-batch.json`, `content_hash`) declares. A download goes to a temp dir beside it, is
 * hashed (libs/model `computeContentHash`, the export tool's algorithm) and only then renamed
 * into place, so a half-downloaded or corrupt model is never used, and processes starting at
 * once on one machine (one worker per GPU) end up sharing one entry.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { isObjectStoreError, openLocation, type S3Options } from '@siglip-batch/io';
import { SIDECAR_FILE, computeContentHash } from '@siglip-batch/model';
import { resolveHubModel } from './hub-model-cache';
import { defaultModelCacheRoot, VERIFIED_MARKER } from './model-cache-layout';
import { hubClientOptionsFromEnv } from './hub-model-pull';
import { isHubModelUri } from './hub-model-ref';

export interface ModelCacheOptions {
  s3?: S3Options;
  /**
   * Cache root.
   * @defaultValue `$SIGLIP_BATCH_CACHE/models`, else `~/.cache/siglip-batch/models`
   */
  root?: string;
}

export interface CachedModel {
  dir: string;
  hash: string;
  /** False when the cache already held it. */
  downloaded: boolean;
}

const sidecarSchema = z.object({ content_hash: z.string().regex(/^[0-9a-f]{64}$/) }).passthrough();

export function isRemoteModelUri(model: string): boolean {
  return /^s3:\/\//i.test(model);
}

export class ModelCache {
  readonly root: string;

  constructor(private readonly options: ModelCacheOptions = {}) {
    this.root = options.root ?? defaultModelCacheRoot();
  }

  async resolve(uri: string): Promise<CachedModel> {
    const { store, prefix } = openLocation(uri.endsWith('/') ? uri : `${uri}/`, this.options.s3);
    try {
      let sidecarBytes: Buffer;
      try {
        sidecarBytes = await store.get(`${prefix}${SIDECAR_FILE}`);
      } catch (error) {
        if (isObjectStoreError(error, 'not_found')) {
          throw new Error(`${uri} has no ${SIDECAR_FILE} with a content_hash: a remote model must be an export of tools/export`);
        }
        throw error;
      }
      const parsed = sidecarSchema.safeParse(JSON.parse(sidecarBytes.toString('utf8')));
      if (!parsed.success) throw new Error(`${uri}${SIDECAR_FILE} has no valid content_hash`);
      const hash = parsed.data.content_hash;
      const dir = join(this.root, hash);
      if (await exists(join(dir, VERIFIED_MARKER))) return { dir, hash, downloaded: false };

      await mkdir(this.root, { recursive: true });
      const temp = await mkdtemp(join(this.root, `.download-${hash.slice(0, 16)}-`));
      try {
        for await (const info of store.list(prefix)) {
          const relative = info.key.slice(prefix.length);
          if (relative === '' || relative.endsWith('/')) continue;
          if (relative.split('/').some((segment) => segment === '..' || segment === '')) throw new Error(`refusing model file key ${info.key}`);
          const path = join(temp, relative);
          await mkdir(dirname(path), { recursive: true });
          await pipeline(await store.getStream(info.key), createWriteStream(path));
        }
        const actual = await computeContentHash(temp);
        if (actual !== hash) throw new Error(`model ${uri}: downloaded files hash to ${actual}, its ${SIDECAR_FILE} says ${hash}`);
        await writeMarker(temp);
        try {
          await rename(temp, dir);
        } catch (error) {
          // Another process finished first (the target exists): use its verified copy.
          if (!(await exists(join(dir, VERIFIED_MARKER)))) throw error;
          return { dir, hash, downloaded: false };
        }
        return { dir, hash, downloaded: true };
      } finally {
        await rm(temp, { recursive: true, force: true });
      }
    } finally {
      store.close();
    }
  }
}

async function writeMarker(dir: string): Promise<void> {
  await writeFile(join(dir, VERIFIED_MARKER), `${new Date().toISOString()}\n`);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}


/**
 * `--model`: a local directory as given, an `s3://…` model folder or one variant of an
 * `hf://org/name[@revision]` Hub repository (`HF_ENDPOINT`, `HF_TOKEN`) through the cache.
 */
export async function resolveModelLocation(model: string, s3: S3Options = {}, options: { variant?: string } = {}): Promise<string> {
  if (isHubModelUri(model)) return (await resolveHubModel(model, { ...options, client: hubClientOptionsFromEnv() })).dir;
  return isRemoteModelUri(model) ? (await new ModelCache({ s3 }).resolve(model)).dir : model;
}
