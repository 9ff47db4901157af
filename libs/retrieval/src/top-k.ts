/**
 * The k best (highest-scoring) items of a stream, in O(k) memory: a binary min-heap whose root
 * is the worst item kept, so a candidate only costs a comparison unless it beats that item.
 */
export interface Scored<T> {
  score: number;
  item: T;
}

export class TopK<T> {
  private readonly heap: Scored<T>[] = [];

  constructor(readonly k: number) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
  }

  get size(): number {
    return this.heap.length;
  }

  /** The lowest score kept once full (a candidate must beat it), else -Infinity. */
  get threshold(): number {
    return this.heap.length < this.k ? Number.NEGATIVE_INFINITY : this.heap[0]!.score;
  }

  /** Offers a candidate; `item` is only called when it is kept (so callers build it lazily). */
  offer(score: number, item: () => T): void {
    if (Number.isNaN(score)) return;
    if (this.heap.length < this.k) {
      this.heap.push({ score, item: item() });
      this.up(this.heap.length - 1);
    } else if (score > this.heap[0]!.score) {
      this.heap[0] = { score, item: item() };
      this.down(0);
    }
  }

  /** Kept items, best first (ties in insertion order are not guaranteed). */
  sorted(): Scored<T>[] {
    return [...this.heap].sort((a, b) => b.score - a.score);
  }

  private up(index: number): void {
    const heap = this.heap;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (heap[parent]!.score <= heap[index]!.score) return;
      [heap[parent], heap[index]] = [heap[index]!, heap[parent]!];
      index = parent;
    }
  }

  private down(index: number): void {
    const heap = this.heap;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < heap.length && heap[left]!.score < heap[smallest]!.score) smallest = left;
      if (right < heap.length && heap[right]!.score < heap[smallest]!.score) smallest = right;
      if (smallest === index) return;
      [heap[smallest], heap[index]] = [heap[index]!, heap[smallest]!];
      index = smallest;
    }
  }
}
