import { describe, expect, test } from 'vitest';
import { csvLine, csvRecordBatches, csvRecords, decodeInventoryKey, encodeInventoryKey } from './inventory-csv';

async function parse(chunks: string[]): Promise<string[][]> {
  const out: string[][] = [];
  for await (const record of csvRecords((async function* () {
    yield* chunks;
  })())) out.push(record);
  return out;
}

const TEXT =
  '"bucket","plain.jpg","12"\n' +
  '"bucket","with,comma.jpg","3"\r\n' +
  '"bucket","say ""cheese"".png",""\n' +
  '\n' +
  '"bucket","two\nlines.jpg","7"\n' +
  'bucket,unquoted.jpg,8';

const EXPECTED = [
  ['bucket', 'plain.jpg', '12'],
  ['bucket', 'with,comma.jpg', '3'],
  ['bucket', 'say "cheese".png', ''],
  ['bucket', 'two\nlines.jpg', '7'],
  ['bucket', 'unquoted.jpg', '8'],
];

describe('csvRecords', () => {
  test('reads quoted fields, doubled quotes, commas and newlines inside quotes, CRLF and a last line without newline', async () => {
    expect(await parse([TEXT])).toEqual(EXPECTED);
  });

  test('gives the same records however the text is split into chunks', async () => {
    for (let at = 1; at < TEXT.length; at++) {
      expect(await parse([TEXT.slice(0, at), TEXT.slice(at)]), `split at ${at}`).toEqual(EXPECTED);
    }
    expect(await parse(TEXT.split(''))).toEqual(EXPECTED);
  });

  test('reads back what csvLine writes', async () => {
    const fields = ['b', 'a "quoted", key\r\nwith everything', '', '"'];
    expect(await parse([csvLine(fields), csvLine(['x'])])).toEqual([fields, ['x']]);
  });

  test('a line that looks like quoted fields is not split where a quoted newline or a lone CR ends it', async () => {
    const text = '"b","a\n","c"\n"b","\n""\n","d"\n"b","x","1"\r"b","y","2"\n"b","z",""';
    const expected = [['b', 'a\n', 'c'], ['b', '\n"\n', 'd'], ['b', 'x', '1'], ['b', 'y', '2'], ['b', 'z', '']];
    for (let at = 0; at < text.length; at++) {
      expect(await parse([text.slice(0, at), text.slice(at)]), `split at ${at}`).toEqual(expected);
    }
    expect(await parse(text.split(''))).toEqual(expected);
  });

  test('csvRecordBatches gives the records ended in each chunk as one array', async () => {
    const batches: string[][][] = [];
    for await (const records of csvRecordBatches((async function* () {
      yield '"a","1"\n"b","2"\n"c",';
      yield '"3"\n';
    })())) batches.push(records);
    expect(batches).toEqual([[['a', '1'], ['b', '2']], [['c', '3']]]);
  });

  test('fails on a file that ends inside a quoted field', async () => {
    await expect(parse(['"bucket","unterminated'])).rejects.toThrow(/ends inside a quoted field/);
  });
});

describe('inventory keys', () => {
  test('are URL-decoded form-style: + is a space, %2B a plus, UTF-8 escapes', () => {
    expect(decodeInventoryKey('photos/my+cat%2Bdog.jpg')).toBe('photos/my cat+dog.jpg');
    expect(decodeInventoryKey('caf%C3%A9/%E7%8C%AB.png')).toBe('café/猫.png');
    expect(decodeInventoryKey('a%2Fb%2C%22c%22')).toBe('a/b,"c"');
  });

  test('a malformed escape is an error that names the key', () => {
    expect(() => decodeInventoryKey('bad%ZZkey')).toThrow(/not a URL-encoded key: "bad%ZZkey"/);
  });

  test('encode and decode round-trip keys with spaces, pluses, quotes and unicode', () => {
    for (const key of ['a b/c+d.jpg', "it's (1)*~!.png", 'é/😀/x y+z%.webp', 'plain/key.jpg']) {
      expect(decodeInventoryKey(encodeInventoryKey(key))).toBe(key);
    }
    expect(encodeInventoryKey('a b+c')).toBe('a+b%2Bc');
  });
});
