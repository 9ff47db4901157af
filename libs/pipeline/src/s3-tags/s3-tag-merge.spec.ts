import { describe, expect, it } from 'vitest';
import { S3_MAX_TAGS, mergeTags, tagKeyOf, tagValueOf, type Tag } from './s3-tag-merge';

const foreign = (n: number): Tag[] => Array.from({ length: n }, (_, i) => ({ key: `team-${i}`, value: `v${i}` }));

describe('tag keys and values', () => {
  it('keep letters, digits, spaces and + - = . _ : / @, and replace anything else', () => {
    expect(tagKeyOf('golden retriever')).toBe('siglip:golden retriever');
    expect(tagKeyOf('a+b-c=d.e_f:g/h@i')).toBe('siglip:a+b-c=d.e_f:g/h@i');
    expect(tagKeyOf('cat, "tabby" (orange)!')).toBe('siglip:cat_ _tabby_ _orange__');
    expect(tagKeyOf('café 猫')).toBe('siglip:café 猫');
    expect(tagKeyOf('  two\t\nlines  ')).toBe('siglip:two lines');
    expect(tagKeyOf('#*?')).toBe('siglip:___');
    expect(tagKeyOf('')).toBe('siglip:_');
  });

  it('cut keys to 128 characters', () => {
    const key = tagKeyOf('x'.repeat(500));
    expect(key).toHaveLength(128);
    expect(key.startsWith('siglip:xxx')).toBe(true);
  });

  it('write scores with 4 decimals, clamped to [0, 1]', () => {
    expect(tagValueOf(0.87314)).toBe('0.8731');
    expect(tagValueOf(1.2)).toBe('1.0000');
    expect(tagValueOf(-0.1)).toBe('0.0000');
  });
});

describe('mergeTags', () => {
  it('adds ours best first after the foreign tags, which are kept', () => {
    const merged = mergeTags(foreign(2), [
      { label: 'dog', score: 0.2 },
      { label: 'cat', score: 0.9 },
    ]);
    expect(merged).toEqual({
      action: 'put',
      written: 2,
      dropped: 0,
      tags: [...foreign(2), { key: 'siglip:cat', value: '0.9000' }, { key: 'siglip:dog', value: '0.2000' }],
    });
  });

  it('replaces our earlier tags instead of accumulating them', () => {
    const existing = [...foreign(1), { key: 'siglip:cat', value: '0.9000' }, { key: 'siglip:old', value: '0.5000' }];
    const merged = mergeTags(existing, [{ label: 'dog', score: 0.7 }]);
    expect(merged).toEqual({ action: 'put', written: 1, dropped: 0, tags: [...foreign(1), { key: 'siglip:dog', value: '0.7000' }] });
  });

  it('removes our tags when the object has none now', () => {
    expect(mergeTags([{ key: 'siglip:cat', value: '0.9000' }], [])).toEqual({ action: 'put', written: 0, dropped: 0, tags: [] });
  });

  it('never exceeds 10 tags: our lowest-scoring are dropped first', () => {
    const labels = ['a', 'b', 'c', 'd'].map((label, i) => ({ label, score: 0.1 * (i + 1) }));
    const merged = mergeTags(foreign(8), labels);
    expect(merged.action).toBe('put');
    if (merged.action !== 'put') return;
    expect(merged.tags).toHaveLength(S3_MAX_TAGS);
    expect(merged.tags.slice(8).map((t) => t.key)).toEqual(['siglip:d', 'siglip:c']);
    expect(merged.dropped).toBe(2);
  });

  it('leaves an object whose foreign tags use all 10 slots alone', () => {
    expect(mergeTags(foreign(10), [{ label: 'cat', score: 0.9 }])).toEqual({ action: 'full' });
    expect(mergeTags(foreign(10), [])).toEqual({ action: 'full' });
  });

  it('is idempotent: the same tags again need no write, whatever their order', () => {
    const labels = [
      { label: 'cat', score: 0.9 },
      { label: 'dog', score: 0.3 },
    ];
    const first = mergeTags(foreign(3), labels);
    if (first.action !== 'put') throw new Error(`expected a write, got ${first.action}`);
    expect(mergeTags([...first.tags].reverse(), labels)).toEqual({ action: 'unchanged', written: 2 });
    expect(mergeTags(first.tags, [{ label: 'cat', score: 0.8 }]).action).toBe('put');
  });

  it('keeps the better score when two labels sanitise to one key', () => {
    const merged = mergeTags([], [
      { label: 'cat?', score: 0.4 },
      { label: 'cat!', score: 0.6 },
    ]);
    expect(merged).toEqual({ action: 'put', written: 1, dropped: 0, tags: [{ key: 'siglip:cat_', value: '0.6000' }] });
  });
});
