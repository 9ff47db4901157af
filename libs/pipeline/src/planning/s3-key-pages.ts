/**
 * The planner's S3 listing: ListObjectsV2 pages read as plain text. The SDK's own
 * deserialisation of a page (a generic XML parser, then a schema walk building an object and a
 * Date per key) costs ~15 µs per key, half of what planning a key costs; the producer needs only
 * the key, ETag and size of each, which a scan of the page's text finds in ~1 µs. The request
 * still goes through the store's client (credentials, endpoint, retries, error classes): only the
 * body of a successful page is read here, and the SDK's deserialiser gets an empty page instead.
 */
import { S3ObjectStore, lookaheadPages, normalizeEtag, s3StoreError, isAbortError } from '@siglip-batch/io';

type ListCommand = typeof import('@aws-sdk/client-s3').ListObjectsV2Command;

export interface ListedKey {
  key: string;
  etag: string;
  size: number;
}

interface Page {
  keys: ListedKey[];
  /** The continuation token of the next page; undefined on the last page. */
  next: string | undefined;
}

export interface KeyPagesOptions {
  startAfter?: string;
  signal?: AbortSignal;
}

/** Pages requested ahead of the caller, as the store's own listing does. */
const LOOKAHEAD_PAGES = 3;
/** What the SDK's deserialiser parses instead of a page already read here. */
const EMPTY_PAGE = Buffer.from('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult></ListBucketResult>');

/**
 * The keys under `prefix`, a page at a time, in key order, with up to {@link LOOKAHEAD_PAGES}
 * pages requested ahead (each needs the previous one's token): memory is bounded by those pages.
 */
export async function* s3KeyPages(store: S3ObjectStore, prefix: string, options: KeyPagesOptions = {}): AsyncGenerator<ListedKey[]> {
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  // Loaded on first use, as the store loads the SDK (a run over local files never does).
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  try {
    const pages = lookaheadPages<Page>({
      fetchPage: (token) => requestPage(ListObjectsV2Command, store, prefix, token, token === undefined ? options.startAfter : undefined, signal),
      nextToken: (page) => page.next,
      depth: LOOKAHEAD_PAGES,
      mapError: (error) => (isAbortError(error) ? error : s3StoreError(error, prefix, `listing s3://${store.bucket}/${prefix}`)),
    });
    for await (const page of pages) if (page.keys.length > 0) yield page.keys;
  } finally {
    stop.abort();
  }
}

async function requestPage(Command: ListCommand, store: S3ObjectStore, prefix: string, token: string | undefined, startAfter: string | undefined, signal: AbortSignal): Promise<Page> {
  const command = new Command({
    Bucket: store.bucket,
    ...(prefix !== '' ? { Prefix: prefix } : {}),
    ...(token !== undefined ? { ContinuationToken: token } : {}),
    ...(startAfter !== undefined ? { StartAfter: startAfter } : {}),
    MaxKeys: 1000,
  });
  let page: Page | undefined;
  // Innermost of the deserialise step (after the SDK's deserialiser and S3's check of 200
  // responses carrying an error): sees the raw response of each attempt, retries included.
  command.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const response = result.response as { statusCode?: number; body?: unknown };
      if (response.statusCode === 200 && response.body && typeof (response.body as AsyncIterable<Buffer>)[Symbol.asyncIterator] === 'function') {
        const chunks: Buffer[] = [];
        for await (const chunk of response.body as AsyncIterable<Buffer>) chunks.push(chunk);
        const text = Buffer.concat(chunks).toString('utf8');
        if (!text.includes('<Error>')) {
          page = parseListPage(text);
          response.body = EMPTY_PAGE;
        } else response.body = Buffer.from(text);
      }
      return result;
    },
    { step: 'deserialize', priority: 'low', name: 'siglipPlannerKeyPage' },
  );
  const output = await store.client.send(command, { abortSignal: signal });
  if (page) return page;
  // A response this scan did not read (another client stack): what the SDK made of it.
  return {
    keys: (output.Contents ?? []).map((object) => ({ key: object.Key!, etag: normalizeEtag(object.ETag), size: object.Size ?? 0 })),
    next: output.IsTruncated && output.NextContinuationToken ? output.NextContinuationToken : undefined,
  };
}

/** The keys, ETags and sizes of a ListObjectsV2 page (XML), and its continuation token. */
export function parseListPage(xml: string): Page {
  const keys: ListedKey[] = [];
  let at = xml.indexOf('<Contents>');
  while (at >= 0) {
    const end = xml.indexOf('</Contents>', at);
    if (end < 0) throw new Error('truncated ListObjectsV2 page');
    const key = textOf(xml, 'Key', at, end);
    if (key === undefined) throw new Error('a ListObjectsV2 entry without a Key');
    keys.push({ key, etag: normalizeEtag(textOf(xml, 'ETag', at, end)), size: Number(textOf(xml, 'Size', at, end) ?? 0) });
    at = xml.indexOf('<Contents>', end);
  }
  const truncated = textOf(xml, 'IsTruncated', 0, xml.length) === 'true';
  const token = truncated ? textOf(xml, 'NextContinuationToken', 0, xml.length) : undefined;
  if (truncated && !token) throw new Error('a truncated ListObjectsV2 page without a NextContinuationToken');
  return { keys, next: token };
}

/** The decoded text of the first `<tag>…</tag>` between `from` and `to`. */
function textOf(xml: string, tag: string, from: number, to: number): string | undefined {
  const open = xml.indexOf(`<${tag}>`, from);
  if (open < 0 || open >= to) return undefined;
  const start = open + tag.length + 2;
  const close = xml.indexOf(`</${tag}>`, start);
  if (close < 0 || close > to) return undefined;
  const raw = xml.slice(start, close);
  return raw.includes('&') ? decodeEntities(raw) : raw;
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  // The common case, every ETag: `&quot;<hex>&quot;`.
  if (text.startsWith('&quot;') && text.endsWith('&quot;') && text.indexOf('&', 6) === text.length - 6) return `"${text.slice(6, -6)}"`;
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (entity, name: string) => {
    if (name.startsWith('#x')) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(Number(name.slice(1)));
    return NAMED[name] ?? entity;
  });
}
