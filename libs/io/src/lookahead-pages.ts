/**
 * A paginated listing read ahead of its caller. Pages are requested one after another (each
 * needs the previous one's continuation token) in the background, up to `depth` pages ahead: the
 * listing goes on while the caller works through a page (the producer writes a shard plan per
 * 1,000 keys), and memory stays bounded by those pages. S3's ListObjectsV2 answers in tens to a
 * few hundred ms, so a caller that waited for each page before asking for the next would spend
 * most of its time waiting (bench/README.md, "io").
 */
export interface LookaheadOptions<P> {
  /** Requests one page: the first with `undefined`, the others with the previous page's token. */
  fetchPage(token: string | undefined): Promise<P>;
  /** The token of the page after `page`; undefined on the last page. */
  nextToken(page: P): string | undefined;
  /** Pages requested ahead of the caller, the one it awaits included (≥ 1). */
  depth: number;
  /** What a failed request throws (e.g. the store's own error class); the error itself by default. */
  mapError?(error: unknown): unknown;
}

export async function* lookaheadPages<P>(options: LookaheadOptions<P>): AsyncGenerator<P> {
  const { fetchPage, nextToken, mapError } = options;
  const depth = Math.max(1, Math.floor(options.depth));
  const request = (token: string | undefined): Promise<P> => {
    const page = fetchPage(token);
    // Awaited in turn below; until then a rejection must not count as unhandled.
    page.catch(() => undefined);
    return page;
  };
  const queue: Array<Promise<P | undefined>> = [];
  let tail: Promise<P | undefined> = request(undefined);
  queue.push(tail);
  const extend = () => {
    while (queue.length < depth) {
      tail = tail.then((page) => {
        const token = page === undefined ? undefined : nextToken(page);
        return token !== undefined ? request(token) : undefined;
      });
      tail.catch(() => undefined);
      queue.push(tail);
    }
  };
  extend();
  while (queue.length > 0) {
    let page: P | undefined;
    try {
      page = await queue.shift();
    } catch (error) {
      throw mapError ? mapError(error) : error;
    }
    if (page === undefined) return;
    extend();
    yield page;
  }
}
