import { describe, expect, it } from 'vitest';
import { parseListPage } from './s3-key-pages';

const page = (contents: string, tail: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>${tail}${contents}</ListBucketResult>`;

describe('parseListPage', () => {
  it('reads key, ETag and size of each entry, decoding XML entities', () => {
    const xml = page(
      '<Contents><Key>p/a&amp;b &lt;1&gt; &#x0D;&#233;.jpg</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>&quot;0123abcd&quot;</ETag><Size>1234</Size><StorageClass>STANDARD</StorageClass></Contents>' +
        '<Contents><Key>p/é/x.jpg</Key><ETag>"ffff-2"</ETag><Size>0</Size><Owner><ID>o</ID></Owner></Contents>',
      '<IsTruncated>false</IsTruncated>',
    );
    expect(parseListPage(xml)).toEqual({
      keys: [
        { key: 'p/a&b <1> \ré.jpg', etag: '0123abcd', size: 1234 },
        { key: 'p/é/x.jpg', etag: 'ffff-2', size: 0 },
      ],
      next: undefined,
    });
  });

  it('gives the continuation token of a truncated page', () => {
    const xml = page('<Contents><Key>k</Key><ETag>&quot;e&quot;</ETag><Size>1</Size></Contents>', '<IsTruncated>true</IsTruncated><NextContinuationToken>tok+/=</NextContinuationToken>');
    expect(parseListPage(xml).next).toBe('tok+/=');
  });

  it('reads an empty page, and refuses a truncated page without a token', () => {
    expect(parseListPage(page('', '<IsTruncated>false</IsTruncated>'))).toEqual({ keys: [], next: undefined });
    expect(() => parseListPage(page('', '<IsTruncated>true</IsTruncated>'))).toThrow(/NextContinuationToken/);
    expect(() => parseListPage(page('<Contents><Key>k</Key>', '<IsTruncated>false</IsTruncated>'))).toThrow(/truncated/);
  });
});
