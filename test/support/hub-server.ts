/**
 * A local stand-in for the Hugging Face Hub, serving the routes `@huggingface/hub` calls, for
 * repositories built in the test from our fixtures (the Hub cannot be reached from CI):
 *
 * - `GET /api/models/{org}/{name}/revision/{rev}` — model info with `sha` (the commit);
 * - `GET /api/models/{org}/{name}/tree/{rev}[/{path}]?recursive=…` — files with size, git blob
 *   id (`oid`) and, for LFS files, `lfs.oid` (sha256) and `lfs.size`;
 * - `GET|HEAD /{org}/{name}/resolve/{rev}/{path}` — plain files served with `ETag` = git blob
 *   id, `X-Repo-Commit`; LFS files redirected (302, as the Hub sends them to its CDN) to
 *   `/lfs-objects/{sha256}`, with `X-Linked-Etag` / `X-Linked-Size`; `Range: bytes=a-b` → 206.
 *
 * Errors as the Hub gives them: 404 with `X-Error-Code` RepoNotFound / RevisionNotFound /
 * EntryNotFound and a JSON `error`; 401 when a token is required and missing or wrong. Faults:
 * `dropOnce(path)` makes the next full download of that file stop after half its bytes (the
 * socket is destroyed), once. Every request is recorded (method, URL, Authorization, Range).
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubRepoSpec {
  /** `org/name`. */
  id: string;
  /** path → content; `lfs` paths are served the way the Hub serves LFS / xet files. */
  files: Record<string, Buffer>;
  lfs: (path: string) => boolean;
  /** Extra branch/tag names pointing at the one commit (besides `main`). */
  refs?: string[];
}

export interface HubRequest {
  method: string;
  url: string;
  authorization: string | undefined;
  range: string | undefined;
}

interface Repo {
  id: string;
  commit: string;
  refs: Set<string>;
  files: Map<string, { body: Buffer; sha256: string; gitOid: string; lfs: boolean }>;
}

export class HubServer {
  readonly requests: HubRequest[] = [];
  private readonly repos = new Map<string, Repo>();
  private readonly drops = new Set<string>();
  private server: Server | undefined;
  url = '';

  constructor(private readonly options: { token?: string } = {}) {}

  addRepo(spec: HubRepoSpec): { commit: string } {
    const files = new Map<string, { body: Buffer; sha256: string; gitOid: string; lfs: boolean }>();
    for (const [path, body] of Object.entries(spec.files)) {
      files.set(path, { body, sha256: sha256(body), gitOid: gitBlobId(spec.lfs(path) ? lfsPointer(body) : body), lfs: spec.lfs(path) });
    }
    const commit = createHash('sha1')
      .update(spec.id + [...files.entries()].map(([p, f]) => `${p}:${f.sha256}`).join(','))
      .digest('hex');
    this.repos.set(spec.id, { id: spec.id, commit, refs: new Set(['main', ...(spec.refs ?? [])]), files });
    return { commit };
  }

  /** The next download of `path` (any repo) that starts at byte 0 is cut after half the file. */
  dropOnce(path: string): void {
    this.drops.add(path);
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(error));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://hub.invalid');
    this.requests.push({ method: req.method ?? 'GET', url: req.url ?? '', authorization: req.headers.authorization, range: req.headers.range });
    if (this.options.token !== undefined && req.headers.authorization !== `Bearer ${this.options.token}`) {
      return json(res, 401, { error: 'Invalid credentials in Authorization header' });
    }
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);

    if (parts[0] === 'lfs-objects' && parts.length === 2) {
      const file = [...this.repos.values()].flatMap((r) => [...r.files.entries()]).find(([, f]) => f.lfs && f.sha256 === parts[1]);
      if (!file) return json(res, 404, { error: 'Entry not found' }, 'EntryNotFound');
      return this.serveBytes(req, res, file[0], file[1].body, { ETag: `"${file[1].sha256}"` });
    }
    if (parts[0] === 'api' && parts[1] === 'models') {
      const repo = this.repos.get(`${parts[2]}/${parts[3]}`);
      if (!repo) return json(res, 404, { error: 'Repository not found' }, 'RepoNotFound');
      const rev = parts[5] ?? 'main';
      if (!this.knows(repo, rev)) return json(res, 404, { error: `Invalid rev id: ${rev}` }, 'RevisionNotFound');
      if (parts[4] === 'revision') {
        return json(res, 200, {
          _id: createHash('md5').update(repo.id).digest('hex').slice(0, 24),
          id: repo.id,
          sha: repo.commit,
          private: false,
          gated: false,
          downloads: 0,
          likes: 0,
          pipeline_tag: 'zero-shot-image-classification',
          lastModified: '2026-01-01T00:00:00.000Z',
          siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })),
        });
      }
      if (parts[4] === 'tree') {
        const under = parts.slice(6).join('/');
        const recursive = url.searchParams.get('recursive') === 'true';
        return json(res, 200, this.tree(repo, under, recursive));
      }
      return json(res, 404, { error: 'Not found' });
    }
    if (parts[2] === 'resolve' && parts.length >= 5) {
      const repo = this.repos.get(`${parts[0]}/${parts[1]}`);
      if (!repo) return json(res, 404, { error: 'Repository not found' }, 'RepoNotFound');
      if (!this.knows(repo, parts[3]!)) return json(res, 404, { error: `Invalid rev id: ${parts[3]}` }, 'RevisionNotFound');
      const path = parts.slice(4).join('/');
      const file = repo.files.get(path);
      if (!file) return json(res, 404, { error: 'Entry not found' }, 'EntryNotFound');
      if (file.lfs) {
        res.writeHead(302, {
          Location: `/lfs-objects/${file.sha256}`,
          ETag: `"${file.gitOid}"`,
          'X-Linked-Etag': `"${file.sha256}"`,
          'X-Linked-Size': String(file.body.length),
          'X-Repo-Commit': repo.commit,
        });
        res.end();
        return;
      }
      return this.serveBytes(req, res, path, file.body, { ETag: `"${file.gitOid}"`, 'X-Repo-Commit': repo.commit });
    }
    return json(res, 404, { error: 'Not found' });
  }

  private knows(repo: Repo, rev: string): boolean {
    return rev === repo.commit || repo.refs.has(rev);
  }

  private tree(repo: Repo, under: string, recursive: boolean): unknown[] {
    const prefix = under ? `${under}/` : '';
    const dirs = new Set<string>();
    const out: unknown[] = [];
    for (const [path, f] of [...repo.files.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (!path.startsWith(prefix)) continue;
      const rest = path.slice(prefix.length).split('/');
      for (let i = 1; i < rest.length; i++) dirs.add(prefix + rest.slice(0, i).join('/'));
      if (!recursive && rest.length > 1) continue;
      out.push({
        type: 'file',
        oid: f.gitOid,
        size: f.body.length,
        path,
        ...(f.lfs ? { lfs: { oid: f.sha256, size: f.body.length, pointerSize: lfsPointer(f.body).length } } : {}),
      });
    }
    for (const d of dirs) if (recursive || !d.slice(prefix.length).includes('/')) out.push({ type: 'directory', oid: gitBlobId(Buffer.from(d)), size: 0, path: d });
    return out;
  }

  private serveBytes(req: IncomingMessage, res: ServerResponse, path: string, body: Buffer, headers: Record<string, string>): void {
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    const end = range && range[2] !== '' ? Math.min(Number(range[2]), body.length - 1) : body.length - 1;
    if (range && start >= body.length) {
      res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
      return;
    }
    const slice = body.subarray(start, end + 1);
    res.writeHead(range ? 206 : 200, {
      ...headers,
      'Accept-Ranges': 'bytes',
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(slice.length),
      ...(range ? { 'Content-Range': `bytes ${start}-${end}/${body.length}` } : {}),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (start === 0 && slice.length > 1 && this.drops.delete(path)) {
      // Half the bytes, then the connection dies (flushed first so the client really has them).
      res.write(slice.subarray(0, Math.floor(slice.length / 2)), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(slice);
  }
}

function json(res: ServerResponse, status: number, body: unknown, errorCode?: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...(errorCode ? { 'X-Error-Code': errorCode } : {}) });
  res.end(JSON.stringify(body));
}

function sha256(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

/** Git's blob id: sha1 of `blob <size>\0` + content. */
export function gitBlobId(body: Buffer): string {
  return createHash('sha1').update(`blob ${body.length}\0`).update(body).digest('hex');
}

function lfsPointer(body: Buffer): Buffer {
  return Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(body)}\nsize ${body.length}\n`);
}
