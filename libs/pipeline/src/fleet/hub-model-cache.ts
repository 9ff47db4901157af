/**
 * `--model hf://org/name[@revision]`: one variant of a Hub repository, pulled once per machine
 * into the same local cache as `s3://` models.
 *
 * The entry is `<root>/<content hash>/` (the export tool's hash over config, tokenizer and
 * graphs), filled in a temp dir beside it — every file checked against the Hub's own sha256 /
 * git blob id while pulling — and renamed into place with the verified marker, so processes
 * starting at once share one entry and a half-pulled model is never used. A pointer file
 * `<root>/hf/<org>/<name>/<commit>.<variant>` names the entry: a revision pinned to a commit
 * id is found there without asking the Hub; a branch or tag is first resolved to its commit
 * (one API call), so a moved branch pulls the new commit.
 */
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { computeContentHash } from '@siglip-batch/model';
import { HUB_VARIANTS, type HubVariant } from './hub-model-files';
import { pullHubModel, resolveHubCommit, type HubClientOptions } from './hub-model-pull';
import { isCommitId, parseHubModelUri } from './hub-model-ref';
import type { CachedModel } from './model-cache';
import { defaultModelCacheRoot, VERIFIED_MARKER } from './model-cache-layout';

export interface HubModelCacheOptions {
  /** @defaultValue {@link defaultModelCacheRoot} */
  root?: string;
  /** Variant whose files are pulled. @defaultValue `fp32` */
  variant?: string;
  /** Hub URL and token. @defaultValue from `HF_ENDPOINT` / `HF_TOKEN` */
  client?: HubClientOptions;
}

export function parseHubVariant(variant: string | undefined): HubVariant {
  const v = variant ?? 'fp32';
  if (!(HUB_VARIANTS as readonly string[]).includes(v)) throw new Error(`variant ${v}: expected one of ${HUB_VARIANTS.join(', ')}`);
  return v as HubVariant;
}

export async function resolveHubModel(uri: string, options: HubModelCacheOptions = {}): Promise<CachedModel & { commit: string }> {
  const ref = parseHubModelUri(uri);
  const variant = parseHubVariant(options.variant);
  const root = options.root ?? defaultModelCacheRoot();
  const client = options.client ?? {};
  const commit = isCommitId(ref.revision) ? ref.revision : await resolveHubCommit(ref, client);
  const pointer = join(root, 'hf', ...ref.repo.split('/'), `${commit}.${variant}`);

  const known = await readPointer(pointer);
  if (known && (await exists(join(root, known, VERIFIED_MARKER)))) return { dir: join(root, known), hash: known, downloaded: false, commit };

  await mkdir(root, { recursive: true });
  const temp = await mkdtemp(join(root, `.download-hf-${commit.slice(0, 12)}-`));
  try {
    await pullHubModel({ repo: ref.repo, revision: commit }, variant, temp, client);
    const hash = await computeContentHash(temp);
    const dir = join(root, hash);
    await writeFile(join(temp, VERIFIED_MARKER), `${new Date().toISOString()} hf://${ref.repo}@${commit} ${variant}\n`);
    let downloaded = true;
    try {
      await rename(temp, dir);
    } catch (error) {
      // Another process finished first: use its verified copy.
      if (!(await exists(join(dir, VERIFIED_MARKER)))) throw error;
      downloaded = false;
    }
    await writePointer(pointer, hash);
    return { dir, hash, downloaded, commit };
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

async function readPointer(path: string): Promise<string | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  const hash = text?.trim();
  return hash && /^[0-9a-f]{64}$/.test(hash) ? hash : undefined;
}

async function writePointer(path: string, hash: string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${hash}\n`);
  await rename(temp, path);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
