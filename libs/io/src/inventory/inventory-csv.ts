/**
 * The CSV of S3 Inventory data files, streamed: S3 quotes every field (`"bucket","a%2Fb.jpg",…`)
 * and URL-encodes the key, so a key may hold commas, quotes or newlines only inside quotes, and a
 * quote inside a quoted field is doubled (RFC 4180). The parser keeps one record in memory, never
 * the file: chunks of any size go in, records come out as soon as their line ends.
 */

/** Streams the records of CSV text given in chunks (any split, even inside a field or `\r\n`). */
export async function* csvRecords(chunks: AsyncIterable<string | Buffer>): AsyncGenerator<string[]> {
  for await (const records of csvRecordBatches(chunks)) yield* records;
}

/**
 * The records of CSV text given in chunks, as one array per chunk (the records whose line ended
 * in it). A line made only of quoted fields without quotes inside (`"a","b%2Cc","3"`, what S3
 * writes, keys being URL-encoded) is split at `","` in one call; any other line (doubled quotes,
 * unquoted fields, a newline or `\r` inside quotes) goes through the full parser. A record cut by
 * the end of a chunk is parsed again with the next one.
 */
export async function* csvRecordBatches(chunks: AsyncIterable<string | Buffer>): AsyncGenerator<string[][]> {
  /** The start of a record not ended in the chunks read so far. */
  let carry = '';
  for await (const chunk of chunks) {
    const text = carry + (typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
    const records: string[][] = [];
    let at = 0;
    for (;;) {
      const end = text.indexOf('\n', at);
      if (end < 0) break;
      const fields = quotedLine(text, at, end);
      if (fields !== null) {
        records.push(fields);
        at = end + 1;
        continue;
      }
      const parsed = parseRecord(text, at, false);
      if (parsed === null) break;
      if (parsed.fields !== null) records.push(parsed.fields);
      at = parsed.next;
    }
    // A '\r' line ending (no '\n' in the rest) is found by the full parser alone.
    while (at < text.length) {
      const parsed = parseRecord(text, at, false);
      if (parsed === null) break;
      if (parsed.fields !== null) records.push(parsed.fields);
      at = parsed.next;
    }
    carry = text.slice(at);
    if (records.length > 0) yield records;
  }
  let at = 0;
  const last: string[][] = [];
  while (at < carry.length) {
    const parsed = parseRecord(carry, at, true)!;
    if (parsed.fields !== null) last.push(parsed.fields);
    at = parsed.next;
  }
  if (last.length > 0) yield last;
}

/** The fields of `text[start, end)` when it is `"f1","f2",…` with no quote inside a field, else null. */
function quotedLine(text: string, start: number, end: number): string[] | null {
  if (end - start < 2 || text.charCodeAt(start) !== 0x22 || text.charCodeAt(end - 1) !== 0x22) return null;
  const fields = text.slice(start + 1, end - 1).split('","');
  for (let i = 0; i < fields.length; i++) if (fields[i]!.includes('"')) return null;
  return fields;
}

/**
 * One record of `text` from `start` (RFC 4180: a quote opens a field only at its start, a doubled
 * quote inside quotes is one quote, `\r`, `\n` and `\r\n` end a line). `fields` is null for an
 * empty line (no record). Null when the text ends before the record does and more may follow.
 */
function parseRecord(text: string, start: number, final: boolean): { fields: string[] | null; next: number } | null {
  const fields: string[] = [];
  let field = '';
  let from = start;
  let quoted = false;
  let fieldStart = true;
  /** The record has content (an empty line is no record). */
  let started = false;
  let i = start;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (quoted) {
      if (c === 0x22) {
        if (i + 1 >= text.length && !final) return null;
        if (text.charCodeAt(i + 1) === 0x22) {
          // A doubled quote: one quote of the value.
          field += text.slice(from, i + 1);
          i += 2;
        } else {
          field += text.slice(from, i);
          quoted = false;
          i++;
        }
        from = i;
        continue;
      }
      i++;
      continue;
    }
    if (c === 0x22 && fieldStart) {
      quoted = true;
      started = true;
      fieldStart = false;
      from = ++i;
      continue;
    }
    if (c === 0x2c) {
      fields.push(field + text.slice(from, i));
      field = '';
      from = ++i;
      fieldStart = true;
      started = true;
      continue;
    }
    if (c === 0x0a || c === 0x0d) {
      const last = field + text.slice(from, i);
      if (!started && last === '') return { fields: null, next: i + 1 };
      fields.push(last);
      return { fields, next: i + 1 };
    }
    fieldStart = false;
    started = true;
    i++;
  }
  if (!final) return null;
  if (quoted) throw new Error('the CSV ends inside a quoted field (a truncated file?)');
  const last = field + text.slice(from);
  if (!started && last === '') return { fields: null, next: text.length };
  fields.push(last);
  return { fields, next: text.length };
}

/**
 * The object key of an S3 Inventory CSV row: S3 writes it URL-encoded the way HTML forms are
 * (`application/x-www-form-urlencoded`: a space is `+`, a literal `+` is `%2B`, UTF-8 bytes as
 * `%XX`). Throws on a malformed escape, naming it.
 */
export function decodeInventoryKey(encoded: string): string {
  if (!encoded.includes('%') && !encoded.includes('+')) return encoded;
  try {
    return decodeURIComponent(encoded.includes('+') ? encoded.replaceAll('+', ' ') : encoded);
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
