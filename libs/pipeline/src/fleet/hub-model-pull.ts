/**
 * Pulls one variant of a model repository from the Hugging Face Hub into a directory, with
 * `@huggingface/hub`: the revision is resolved to its commit first (`modelInfo`), the file list
 * read at that commit (`listFiles`), and every file fetched at that commit, so a branch that
 * moves during the pull cannot mix two versions.
 *
 * Each file is written to `<path>.part` and renamed into place only after it was verified: LFS
 * files by their sha256 (the LFS object id the Hub lists), other files by their git blob id. A
 * connection that drops mid-file is resumed with an HTTP Range request from the bytes already
 * written (up to `retries` times per file), and a `.part` left by an interrupted earlier pull is
 * resumed the same way. A file already present with the right hash is not downloaded again.
 *
 * The token (`HF_TOKEN`) goes into the Authorization header only; no message of this module
 * contains it.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout } from 'node:timers/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
// Loaded when a model is pulled from the Hub, not at the start-up of every command that can.
const hub = () => import('@huggingface/hub');
import { selectHubFiles, type HubFileEntry, type HubFileSelection, type HubVariant } from './hub-model-files';
import type { HubModelRef } from './hub-model-ref';

export interface HubClientOptions {
  /**
   * Hub base URL.
   * @defaultValue `$HF_ENDPOINT`, else `https://huggingface.co`
   */
  hubUrl?: string;
  /**
   * Access token (`hf_…`), sent as `Authorization: Bearer`.
   * @defaultValue `$HF_TOKEN`
   */
  accessToken?: string;
  /** Attempts per file after the first when the connection fails. @defaultValue 4 */
  retries?: number;
  /** Called as files complete (for progress lines); never given the token. */
  onFile?: (event: { path: string; bytes: number; resumedFrom: number; skipped: boolean }) => void;
}

export interface HubPullResult {
  repo: string;
  revision: string;
  /** The commit the revision pointed at. */
  commit: string;
  variant: HubVariant;
  layout: HubFileSelection['layout'];
  logitSource: HubFileSelection['logitSource'];
  files: Array<{ path: string; size: number }>;
  /** Bytes fetched over the network in this pull. */
  downloadedBytes: number;
}

export class HubPullError extends Error {
  override readonly name = 'HubPullError';
}

export function hubClientOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): Pick<HubClientOptions, 'hubUrl' | 'accessToken'> {
  const hubUrl = env['HF_ENDPOINT']?.trim().replace(/\/+$/, '');
  const accessToken = env['HF_TOKEN']?.trim();
  return { ...(hubUrl ? { hubUrl } : {}), ...(accessToken ? { accessToken } : {}) };
}

/** The commit a revision points at; a clear error for a missing repo / revision / access. */
export async function resolveHubCommit(ref: HubModelRef, options: HubClientOptions): Promise<string> {
  try {
    const info = await (await hub()).modelInfo({ name: ref.repo, revision: ref.revision, additionalFields: ['sha'], ...credentials(options) });
    const sha = (info as { sha?: unknown }).sha;
    if (typeof sha !== 'string' || !/^[0-9a-f]{40}$/.test(sha)) throw new HubPullError(`${describeRef(ref)}: the Hub gave no commit id`);
    return sha;
  } catch (error) {
    throw describe(error, describeRef(ref));
  }
}

/** Pulls `variant` of `ref` into `out` (created if needed). */
export async function pullHubModel(ref: HubModelRef, variant: HubVariant, out: string, options: HubClientOptions = {}): Promise<HubPullResult> {
  const commit = await resolveHubCommit(ref, options);
  const where = describeRef(ref);
  const entries: HubFileEntry[] = [];
  try {
    for await (const entry of (await hub()).listFiles({ repo: ref.repo, revision: commit, recursive: true, ...credentials(options) })) {
      if (entry.type !== 'file') continue;
      entries.push({ path: entry.path, size: entry.size, ...(entry.oid ? { oid: entry.oid } : {}), ...(entry.lfs ? { lfs: { oid: entry.lfs.oid, size: entry.lfs.size } } : {}) });
    }
  } catch (error) {
    throw describe(error, where);
  }
  const selection = selectHubFiles(where, entries, variant);
  let downloadedBytes = 0;
  for (const file of selection.files) {
    downloadedBytes += await pullFile(ref.repo, commit, file, out, options);
  }
  return {
    repo: ref.repo,
    revision: ref.revision,
    commit,
    variant,
    layout: selection.layout,
    logitSource: selection.logitSource,
    files: selection.files.map((f) => ({ path: f.path, size: f.lfs?.size ?? f.size })),
    downloadedBytes,
  };
}

async function pullFile(repo: string, commit: string, file: HubFileEntry, out: string, options: HubClientOptions): Promise<number> {
  if (file.path.split('/').some((s) => s === '' || s === '.' || s === '..') || file.path.includes('\\')) {
    throw new HubPullError(`${repo}: refusing file path ${JSON.stringify(file.path)}`);
  }
  const target = join(out, ...file.path.split('/'));
  const part = `${target}.part`;
  const size = file.lfs?.size ?? file.size;
  await mkdir(dirname(target), { recursive: true });
  if ((await sizeOf(target)) === size && (await matches(target, file))) {
    options.onFile?.({ path: file.path, bytes: 0, resumedFrom: size, skipped: true });
    return 0;
  }
  const where = `${repo}/${file.path} (commit ${commit.slice(0, 12)})`;
  const blob = await (await hub()).downloadFile({ repo, path: file.path, revision: commit, xet: false, ...credentials(options) }).catch((error: unknown) => {
    throw describe(error, where);
  });
  if (!blob) throw new HubPullError(`${where}: listed by the Hub but not downloadable (404)`);
  if (blob.size !== size) throw new HubPullError(`${where}: the Hub serves ${blob.size} bytes, its file list says ${size}`);

  const retries = options.retries ?? 4;
  let have = Math.max(0, Math.min(await sizeOf(part), size));
  if (size === 0) await writeFile(part, '');
  const resumedFrom = have;
  let fetched = 0;
  for (let attempt = 0; have < size; attempt++) {
    try {
      // A slice not starting at 0 is fetched with `Range: bytes=<have>-<size-1>` by the client.
      const body = (have === 0 ? blob : blob.slice(have, size)).stream() as unknown as WebReadableStream<Uint8Array>;
      await pipeline(Readable.fromWeb(body), countBytes((n) => (fetched += n)), createWriteStream(part, { flags: have === 0 ? 'w' : 'a' }));
    } catch (error) {
      if (attempt >= retries) throw describe(error, `${where} (after ${attempt + 1} attempts)`);
      await setTimeout(Math.min(250 * 2 ** attempt, 4000));
    }
    have = Math.max(0, await sizeOf(part));
    if (have > size) {
      await rm(part, { force: true });
      throw new HubPullError(`${where}: received ${have} bytes, expected ${size}`);
    }
  }
  if (!(await matches(part, file))) {
    await rm(part, { force: true });
    throw new HubPullError(`${where}: content does not match the Hub's ${file.lfs ? 'sha256' : 'git blob id'} (removed; pull again)`);
  }
  await rename(part, target);
  options.onFile?.({ path: file.path, bytes: size, resumedFrom, skipped: false });
  return fetched;
}

function countBytes(add: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      add(chunk.length);
      callback(null, chunk);
    },
  });
}

/** LFS files: sha256 = the LFS oid; others: git's blob id, sha1("blob <size>\0" + bytes). */
async function matches(path: string, file: HubFileEntry): Promise<boolean> {
  if (!file.lfs && !file.oid) return false;
  const hash = file.lfs ? createHash('sha256') : createHash('sha1').update(`blob ${file.size}\0`);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex') === (file.lfs ? file.lfs.oid : file.oid);
}

/** Size of a regular file, -1 when there is none. */
async function sizeOf(path: string): Promise<number> {
  return stat(path).then(
    (s) => (s.isFile() ? s.size : -1),
    () => -1,
  );
}

/**
 * `org/name (revision r)`: not `hf://org/name@r`, which log redaction would read as user-info.
 */
export function describeRef(ref: HubModelRef): string {
  return `${ref.repo} (revision ${ref.revision})`;
}

function credentials(options: HubClientOptions): { hubUrl?: string; accessToken?: string } {
  return { ...(options.hubUrl ? { hubUrl: options.hubUrl } : {}), ...(options.accessToken ? { accessToken: options.accessToken } : {}) };
}

/** One message per failure, with the Hub's status; never the token (the client's messages hold only URLs). */
function describe(error: unknown, where: string): Error {
  if (error instanceof HubPullError) return error;
  const status = (error as { statusCode?: unknown }).statusCode;
  const message = error instanceof Error ? error.message : String(error);
  if (status === 401 || status === 403) return new HubPullError(`${where}: access denied (${status}); a gated or private repo needs HF_TOKEN with read access. ${message}`);
  if (status === 404) return new HubPullError(`${where}: not found on the Hub (404): ${message}`);
  return new HubPullError(`${where}: ${message}`, { cause: error });
}
