import { describe, expect, it } from 'vitest';
import { AllowList } from './allow-list';

describe('AllowList', () => {
  it('allows everything when empty', () => {
    expect(new AllowList([]).allows('s3://any/key.jpg')).toBe(true);
  });
  it('allows objects under an allowed prefix, compared by whole path segments', () => {
    const allow = new AllowList(['s3://photos/2026', 'file:///data/images/']);
    expect(allow.allows('s3://photos/2026/a.jpg')).toBe(true);
    expect(allow.allows('s3://photos/2026-old/a.jpg')).toBe(false);
    expect(allow.allows('s3://other/2026/a.jpg')).toBe(false);
    expect(allow.allows('file:///data/images/x/y.png')).toBe(true);
    expect(allow.allows('file:///data/imagesX/y.png')).toBe(false);
    expect(allow.allows('file:///etc/passwd')).toBe(false);
  });
  it('never allows a path that climbs out with ..', () => {
    const allow = new AllowList(['file:///data/images']);
    expect(allow.allows('file:///data/images/../../etc/passwd')).toBe(false);
  });
  it('refuses URIs it cannot parse', () => {
    expect(new AllowList(['s3://photos']).allows('http://photos/a.jpg')).toBe(false);
  });
});

describe('AllowList.refuses', () => {
  it('refuses readable locations outside the list, but leaves unparsable URIs to become error rows', () => {
    const allow = new AllowList(['s3://photos']);
    expect(allow.refuses('s3://other/a.jpg')).toBe(true);
    expect(allow.refuses('s3://photos/a.jpg')).toBe(false);
    expect(allow.refuses('http://photos/a.jpg')).toBe(false);
  });
});
