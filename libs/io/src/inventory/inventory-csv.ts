/**
 * The CSV of S3 Inventory data files, streamed: S3 quotes every field (`"bucket","a%2Fb.jpg",…`)
 * and URL-encodes the key, so a key may hold commas, quotes or newlines only inside quotes, and a
 * quote inside a quoted field is doubled (RFC 4180). The parser keeps one record in memory, never
 * the file: chunks of any size go in, records come out as soon as their line ends.
 */

/** Streams the records of CSV text given in chunks (any split, even inside a field or `\r\n`). */
export async function* csvRecords(chunks: AsyncIterable<string | Buffer>): AsyncGenerator<string[]> {
  let fields: string[] = [];
  let field = '';
  /** Inside a quoted field. */
  let quoted = false;
  /** A quote seen inside a quoted field: the next character decides (a doubled quote, or the end). */
  let quotePending = false;
  /** The record has content (an empty line is no record). */
  let started = false;
  /** A '\r' ended the last record: a '\n' right after it belongs to that line ending. */
  let afterCr = false;
  for await (const chunk of chunks) {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    const records: string[][] = [];
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (afterCr) {
        afterCr = false;
        if (c === 0x0a) {
          start = i + 1;
          continue;
        }
      }
      if (quoted) {
        if (quotePending) {
          quotePending = false;
          if (c === 0x22) {
            // A doubled quote: one quote of the value (the text before the pair is in `field`).
            field += '"';
            start = i + 1;
            continue;
          }
          // The closing quote was the one before: the field ends here, the character is read below.
          quoted = false;
        } else {
          if (c === 0x22) {
            field += text.slice(start, i);
            start = i + 1;
            quotePending = true;
          }
          continue;
        }
      }
      if (c === 0x22 && field === '' && i === start) {
        quoted = true;
        started = true;
        start = i + 1;
        continue;
      }
      if (c === 0x2c) {
        fields.push(field + text.slice(start, i));
        field = '';
        start = i + 1;
        started = true;
        continue;
      }
      if (c === 0x0a || c === 0x0d) {
        const last = field + text.slice(start, i);
        if (started || last !== '') {
          fields.push(last);
          records.push(fields);
        }
        fields = [];
        field = '';
        started = false;
        start = i + 1;
        afterCr = c === 0x0d;
        continue;
      }
      started = true;
    }
    // What is left of the chunk belongs to the field being read.
    field += text.slice(start);
    yield* records;
  }
  if (quoted && !quotePending) throw new Error('the CSV ends inside a quoted field (a truncated file?)');
  if (started || field !== '') {
    fields.push(field);
    yield fields;
  }
}

/**
 * The object key of an S3 Inventory CSV row: S3 writes it URL-encoded the way HTML forms are
 * (`application/x-www-form-urlencoded`: a space is `+`, a literal `+` is `%2B`, UTF-8 bytes as
 * `%XX`). Throws on a malformed escape, naming it.
 */
export function decodeInventoryKey(encoded: string): string {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, ' '));
  } catch {
    throw new Error(`not a URL-encoded key: ${JSON.stringify(encoded)}`);
  }
}

/** The inverse of {@link decodeInventoryKey} (what S3 writes; used to make inventories in tests). */
export function encodeInventoryKey(key: string): string {
  return encodeURIComponent(key)
    .replace(/%20/g, '+')
    .replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** One CSV record as S3 writes it: every field quoted, quotes doubled. */
export function csvLine(fields: readonly string[]): string {
  return `${fields.map((field) => `"${field.replace(/"/g, '""')}"`).join(',')}\n`;
}
