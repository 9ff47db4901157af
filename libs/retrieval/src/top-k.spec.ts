import { describe, expect, it } from 'vitest';
import { TopK } from './top-k';

describe('TopK', () => {
  it('keeps the k best of a stream, best first', () => {
    const values = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000);
    const top = new TopK<number>(5);
    for (const value of values) top.offer(value, () => value);
    expect(top.sorted().map((entry) => entry.item)).toEqual([999, 998, 997, 996, 995]);
    expect(top.threshold).toBe(995);
  });

  it('holds fewer than k when the stream is short, and builds items only when kept', () => {
    const top = new TopK<string>(10);
    let built = 0;
    for (const score of [0.1, 0.3, 0.2]) top.offer(score, () => `${built++}`);
    expect(top.size).toBe(3);
    expect(top.threshold).toBe(Number.NEGATIVE_INFINITY);
    expect(top.sorted().map((entry) => entry.score)).toEqual([0.3, 0.2, 0.1]);
    const full = new TopK<number>(1);
    full.offer(1, () => 1);
    full.offer(0.5, () => {
      throw new Error('must not be built');
    });
    full.offer(Number.NaN, () => 2);
    expect(full.sorted()).toEqual([{ score: 1, item: 1 }]);
  });

  it('refuses k < 1', () => {
    expect(() => new TopK(0)).toThrow(RangeError);
  });
});
