import { describe, expect, it } from 'vitest';
import { lookaheadPages } from './lookahead-pages';

interface Page {
  items: number[];
  next: string | undefined;
}

/** A listing of `pages` pages of 2 items, recording the order of requests. */
function listing(pages: number, failAt?: number) {
  const requested: Array<string | undefined> = [];
  const fetchPage = async (token: string | undefined): Promise<Page> => {
    requested.push(token);
    const at = token === undefined ? 0 : Number(token);
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (at === failAt) throw new Error(`page ${at} failed`);
    return { items: [2 * at, 2 * at + 1], next: at + 1 < pages ? String(at + 1) : undefined };
  };
  return { requested, fetchPage, nextToken: (page: Page) => page.next };
}

async function collect(pages: AsyncIterable<Page>): Promise<number[]> {
  const items: number[] = [];
  for await (const page of pages) items.push(...page.items);
  return items;
}

describe('lookaheadPages', () => {
  it('yields every page once, in order, each requested with the previous token', async () => {
    const source = listing(5);
    expect(await collect(lookaheadPages({ ...source, depth: 3 }))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(source.requested).toEqual([undefined, '1', '2', '3', '4']);
  });

  it('keeps at most `depth` pages requested ahead of a caller that does not read on', async () => {
    const source = listing(100);
    const pages = lookaheadPages({ ...source, depth: 3 });
    await pages.next();
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The page handed out plus 3 in flight or waiting; not the other 96.
    expect(source.requested.length).toBe(4);
    await pages.return(undefined);
  });

  it('requests one page at a time with depth 1, and works on a single page', async () => {
    const one = listing(1);
    expect(await collect(lookaheadPages({ ...one, depth: 1 }))).toEqual([0, 1]);
    expect(one.requested).toEqual([undefined]);
  });

  it('throws the mapped error of a failed page after the pages before it', async () => {
    const source = listing(5, 2);
    const seen: number[] = [];
    const run = async () => {
      for await (const page of lookaheadPages({ ...source, depth: 3, mapError: (error) => new Error(`listing: ${(error as Error).message}`) })) seen.push(...page.items);
    };
    await expect(run()).rejects.toThrow('listing: page 2 failed');
    expect(seen).toEqual([0, 1, 2, 3]);
  });
});
