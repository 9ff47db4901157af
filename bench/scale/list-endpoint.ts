/**
 * The scale bench's S3 endpoint, run in its own process (its CPU and memory are not the
 * measured processes'): enough of S3 for the real S3 client of libs/io, path-style.
 *
 * - Virtual buckets (`PUT /__bucket/<name>?objects=N`): ListObjectsV2 with prefix, delimiter,
 *   start-after, continuation-token and max-keys (≤ 1,000) over the N keys of synthetic-keys.ts,
 *   each page answered after `pageMs` (S3's own listing time); GET/HEAD of an object give 16
 *   bytes with the object's listed ETag.
 * - File buckets (`PUT /__files/<name>?dir=/abs/dir`): a local directory served as a bucket —
 *   GET (with Range), HEAD, PUT, DELETE and ListObjectsV2 — for the synthetic S3 Inventory
 *   reports; every GET waits `getMs` before its first byte.
 * - `GET /__stats`: requests by kind since start (or `POST /__reset`).
 *
 *   npx tsx bench/scale/list-endpoint.ts [pageMs=50] [getMs=50]
 *
 * Prints `{"endpoint": …}` once listening.
 */
import { createReadStream, createWriteStream, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { dirname, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { VirtualBucket, etagOfIndex, indexOfKey, sizeOfIndex } from './synthetic-keys';

const pageMs = Number(process.argv[2] ?? 50);
const getMs = Number(process.argv[3] ?? pageMs);
const MODIFIED = new Date(Date.UTC(2024, 0, 1)).toISOString();

const virtual = new Map<string, VirtualBucket>();
const files = new Map<string, string>();
const stats: Record<string, number> = {};
let cpuAtReset = process.cpuUsage();
const count = (what: string, n = 1) => (stats[what] = (stats[what] ?? 0) + n);

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const delay = (ms: number) => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve());

interface Listed {
  contents: Array<{ key: string; etag: string; size: number }>;
  prefixes: string[];
  /** Resume point for the next page (undefined: the listing is complete). */
  next?: { after: string; skipPrefix: boolean };
}

interface ListArgs {
  prefix: string;
  delimiter: string;
  after: string;
  skipPrefix: boolean;
  max: number;
}

function listVirtual(bucket: VirtualBucket, args: ListArgs): Listed {
  const { prefix, delimiter, after, skipPrefix, max } = args;
  const hi = prefix === '' ? bucket.objects : bucket.firstRank((k) => k >= prefix && !k.startsWith(prefix));
  let rank = bucket.firstRank((k) => k >= prefix);
  if (after !== '') rank = Math.max(rank, bucket.firstRank(skipPrefix ? (k) => k > after && !k.startsWith(after) : (k) => k > after));
  const listed: Listed = { contents: [], prefixes: [] };
  let last: { after: string; skipPrefix: boolean } | undefined;
  while (rank < hi && listed.contents.length + listed.prefixes.length < max) {
    const key = bucket.keyAt(rank);
    const cut = delimiter === '' ? -1 : key.indexOf(delimiter, prefix.length);
    if (cut >= 0) {
      const common = key.slice(0, cut + delimiter.length);
      listed.prefixes.push(common);
      last = { after: common, skipPrefix: true };
      rank = bucket.firstRank((k) => k > common && !k.startsWith(common));
      continue;
    }
    const i = indexOfKey(key);
    listed.contents.push({ key, etag: etagOfIndex(i), size: sizeOfIndex(i) });
    last = { after: key, skipPrefix: false };
    rank++;
  }
  if (rank < hi && last) listed.next = last;
  return listed;
}

function* walk(root: string, dir = root): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(root, path);
    else if (!entry.name.startsWith('.')) yield relative(root, path).split(sep).join('/');
  }
}

function listFiles(root: string, args: ListArgs): Listed {
  const { prefix, delimiter, after, skipPrefix, max } = args;
  const keys = [...walk(root)].filter((k) => k.startsWith(prefix)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const listed: Listed = { contents: [], prefixes: [] };
  let last: { after: string; skipPrefix: boolean } | undefined;
  let index = 0;
  for (; index < keys.length && listed.contents.length + listed.prefixes.length < max; index++) {
    const key = keys[index]!;
    if (after !== '' && (skipPrefix ? key <= after || key.startsWith(after) : key <= after)) continue;
    const cut = delimiter === '' ? -1 : key.indexOf(delimiter, prefix.length);
    if (cut >= 0) {
      const common = key.slice(0, cut + delimiter.length);
      if (listed.prefixes.at(-1) === common) continue;
      listed.prefixes.push(common);
      last = { after: common, skipPrefix: true };
      continue;
    }
    const stat = statSync(join(root, key));
    listed.contents.push({ key, etag: fileEtag(stat), size: stat.size });
    last = { after: key, skipPrefix: false };
  }
  const rest = keys.slice(index).some((key) => !(last?.skipPrefix && key.startsWith(last.after)));
  if (rest && last) listed.next = last;
  return listed;
}

function fileEtag(stat: { size: number; mtimeMs: number }): string {
  return `${Math.round(stat.mtimeMs).toString(16).padStart(16, '0')}${stat.size.toString(16).padStart(16, '0')}`;
}

function listResponse(bucket: string, args: ListArgs, listed: Listed): string {
  const token = listed.next ? Buffer.from(JSON.stringify(listed.next)).toString('base64url') : undefined;
  return (
    `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
    `<Name>${xml(bucket)}</Name><Prefix>${xml(args.prefix)}</Prefix>${args.delimiter ? `<Delimiter>${xml(args.delimiter)}</Delimiter>` : ''}` +
    `<KeyCount>${listed.contents.length + listed.prefixes.length}</KeyCount><MaxKeys>${args.max}</MaxKeys>` +
    `<IsTruncated>${token !== undefined}</IsTruncated>${token !== undefined ? `<NextContinuationToken>${token}</NextContinuationToken>` : ''}` +
    listed.contents
      .map((c) => `<Contents><Key>${xml(c.key)}</Key><LastModified>${MODIFIED}</LastModified><ETag>&quot;${c.etag}&quot;</ETag><Size>${c.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`)
      .join('') +
    listed.prefixes.map((p) => `<CommonPrefixes><Prefix>${xml(p)}</Prefix></CommonPrefixes>`).join('') +
    `</ListBucketResult>`
  );
}

function notFound(response: ServerResponse, key: string): void {
  response.writeHead(404, { 'content-type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>no such key</Message><Key>${xml(key)}</Key></Error>`);
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const path = decodeURIComponent(url.pathname);
  if (path === '/__stats') {
    const cpu = process.cpuUsage(cpuAtReset);
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...stats, 'cpu-ms': Math.round((cpu.user + cpu.system) / 1000) }));
    return;
  }
  if (path === '/__reset') {
    for (const key of Object.keys(stats)) delete stats[key];
    cpuAtReset = process.cpuUsage();
    response.writeHead(204).end();
    return;
  }
  const control = /^\/__(bucket|files)\/([^/]+)$/.exec(path);
  if (control) {
    if (control[1] === 'bucket') virtual.set(control[2]!, new VirtualBucket(Number(url.searchParams.get('objects'))));
    else files.set(control[2]!, url.searchParams.get('dir')!);
    response.writeHead(204).end();
    return;
  }
  const slash = path.indexOf('/', 1);
  const bucket = slash < 0 ? path.slice(1) : path.slice(1, slash);
  const key = slash < 0 ? '' : path.slice(slash + 1);
  const method = request.method ?? 'GET';
  const vbucket = virtual.get(bucket);
  const root = files.get(bucket);
  if (!vbucket && !root) {
    response.writeHead(404, { 'content-type': 'application/xml' }).end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code><Message>no such bucket</Message></Error>');
    return;
  }
  if (method === 'GET' && key === '' && url.searchParams.get('list-type') === '2') {
    const token = url.searchParams.get('continuation-token');
    const resume = token ? (JSON.parse(Buffer.from(token, 'base64url').toString()) as { after: string; skipPrefix: boolean }) : undefined;
    const args: ListArgs = {
      prefix: url.searchParams.get('prefix') ?? '',
      delimiter: url.searchParams.get('delimiter') ?? '',
      after: resume?.after ?? url.searchParams.get('start-after') ?? '',
      skipPrefix: resume?.skipPrefix ?? false,
      max: Math.max(1, Math.min(1000, Number(url.searchParams.get('max-keys') ?? 1000))),
    };
    const listed = vbucket ? listVirtual(vbucket, args) : listFiles(root!, args);
    count(vbucket ? 'list' : 'list-files');
    count('listed-keys', listed.contents.length);
    const body = listResponse(bucket, args, listed);
    await delay(pageMs);
    response.writeHead(200, { 'content-type': 'application/xml' }).end(body);
    return;
  }
  if (vbucket) {
    const i = indexOfKey(key);
    if (i < 0 || i >= vbucket.objects || (method !== 'GET' && method !== 'HEAD')) {
      notFound(response, key);
      return;
    }
    count(method === 'GET' ? 'get' : 'head');
    const bytes = Buffer.from(etagOfIndex(i).slice(0, 16));
    response.writeHead(200, { 'content-length': bytes.length, etag: `"${etagOfIndex(i)}"`, 'last-modified': new Date(MODIFIED).toUTCString() });
    response.end(method === 'GET' ? bytes : undefined);
    return;
  }
  const file = join(root!, ...key.split('/'));
  if (method === 'PUT') {
    count('put');
    mkdirSync(dirname(file), { recursive: true });
    const temporary = join(dirname(file), `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
    await pipeline(request, createWriteStream(temporary));
    renameSync(temporary, file);
    const stat = statSync(file);
    response.writeHead(200, { etag: `"${fileEtag(stat)}"` }).end();
    return;
  }
  if (method === 'DELETE') {
    count('delete');
    rmSync(file, { force: true });
    response.writeHead(204).end();
    return;
  }
  let stat;
  try {
    stat = statSync(file);
  } catch {
    notFound(response, key);
    return;
  }
  if (!stat.isFile()) {
    notFound(response, key);
    return;
  }
  const headers = { etag: `"${fileEtag(stat)}"`, 'last-modified': stat.mtime.toUTCString(), 'accept-ranges': 'bytes' };
  if (method === 'HEAD') {
    count('head');
    response.writeHead(200, { ...headers, 'content-length': stat.size }).end();
    return;
  }
  count('get');
  await delay(getMs);
  const range = /^bytes=(\d*)-(\d*)$/.exec(request.headers.range ?? '');
  if (range && (range[1] !== '' || range[2] !== '')) {
    let start = range[1] === '' ? Math.max(0, stat.size - Number(range[2])) : Number(range[1]);
    const end = range[1] === '' || range[2] === '' ? stat.size - 1 : Math.min(stat.size - 1, Number(range[2]));
    if (start > end) start = end;
    count('bytes-out', end - start + 1);
    response.writeHead(206, { ...headers, 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${stat.size}` });
    await pipeline(createReadStream(file, { start, end }), response);
    return;
  }
  count('bytes-out', stat.size);
  response.writeHead(200, { ...headers, 'content-length': stat.size });
  await pipeline(createReadStream(file), response);
}

const server = createServer((request, response) => {
  handle(request, response).catch((error: unknown) => {
    if (!response.headersSent) response.writeHead(500).end(String(error));
    else response.destroy();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address() as { port: number };
  console.log(JSON.stringify({ endpoint: `http://127.0.0.1:${address.port}` }));
});
