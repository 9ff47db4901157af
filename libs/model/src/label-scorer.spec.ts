import { describe, expect, it } from 'vitest';
import {
  applyTemplate,
  buildLabelSet,
  DEFAULT_TEMPLATE,
  flattenPrompts,
  l2NormalizeRows,
  labelEmbeddings,
  LabelScorer,
  scoreEmbeddings,
  sigmoid,
  tagsFor,
} from './label-scorer';

describe('buildLabelSet', () => {
  it('applies the default template and threshold', () => {
    const set = buildLabelSet(['cat', 'dog']);
    expect(set.prompts).toEqual([['This is a photo of cat.'], ['This is a photo of dog.']]);
    expect(set.thresholds).toEqual([0.1, 0.1]);
    expect(set.templates).toEqual([DEFAULT_TEMPLATE]);
  });

  it('makes one prompt per template and keeps per-label prompts and thresholds', () => {
    const set = buildLabelSet(['cat', { label: 'dog', prompts: ['a dog', 'a puppy'], threshold: 0.5 }], {
      templates: ['a photo of {}', 'a drawing of {}'],
      threshold: 0.2,
    });
    expect(set.prompts).toEqual([['a photo of cat', 'a drawing of cat'], ['a dog', 'a puppy']]);
    expect(set.thresholds).toEqual([0.2, 0.5]);
    expect(flattenPrompts(set)).toEqual(['a photo of cat', 'a drawing of cat', 'a dog', 'a puppy']);
  });

  it('refuses an empty list, blanks, duplicates and templates without {} — all at once', () => {
    expect(() => buildLabelSet([])).toThrow(/the label list is empty/);
    expect(() => buildLabelSet(['cat', 'cat', ' '], { templates: ['a photo'] })).toThrow(
      /template "a photo" has no \{\} for the label; .*label "cat" is given twice/,
    );
  });

  it('replaces every {} like str.format', () => {
    expect(applyTemplate('{} and {}', 'x')).toBe('x and x');
  });
});

describe('scoring maths', () => {
  it('normalises rows to unit length (and leaves zero rows at zero)', () => {
    const rows = l2NormalizeRows(new Float32Array([3, 4, 0, 0]), 2);
    expect(Array.from(rows)).toEqual([0.6000000238418579, 0.800000011920929, 0, 0]);
  });

  it('averages the normalised prompt embeddings of a label and renormalises', () => {
    const set = buildLabelSet([{ label: 'a', prompts: ['p1', 'p2'] }, { label: 'b', prompts: ['p3'] }]);
    const prompts = new Float32Array([1, 0, 0, 1, 0.6, 0.8]);
    const labels = labelEmbeddings(set, prompts, 2);
    expect(labels[0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(labels[1]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(Array.from(labels.subarray(2))).toEqual([Math.fround(0.6), Math.fround(0.8)]);
  });

  it('computes sigmoid(exp(scale) · cos + bias) per image and label', () => {
    const images = new Float32Array([1, 0, 0, 1]);
    const labels = new Float32Array([1, 0, 0.6, 0.8]);
    const scores = scoreEmbeddings(images, labels, 2, Math.log(10), -5);
    expect(scores[0]).toBeCloseTo(sigmoid(10 * 1 - 5), 6);
    expect(scores[1]).toBeCloseTo(sigmoid(10 * 0.6 - 5), 6);
    expect(scores[2]).toBeCloseTo(sigmoid(10 * 0 - 5), 6);
    expect(scores[3]).toBeCloseTo(sigmoid(10 * 0.8 - 5), 6);
  });

  it('is stable at extreme logits', () => {
    expect(sigmoid(1000)).toBe(1);
    expect(sigmoid(-1000)).toBe(0);
    expect(sigmoid(0)).toBe(0.5);
  });

  it('tags labels at or above their threshold, best first', () => {
    const set = buildLabelSet(['a', { label: 'b', threshold: 0.9 }, 'c', 'd']);
    expect(tagsFor([0.3, 0.8, 0.95, 0.1], set)).toEqual(['c', 'a', 'd']);
    expect(tagsFor([0.05, 0.95, 0.05, 0.05], set)).toEqual(['b']);
  });

  it('scores through LabelScorer with tags per image', () => {
    const set = buildLabelSet(['x', 'y']);
    const scorer = new LabelScorer(set, new Float32Array([1, 0, 0, 1]), 2, 0, 0);
    const scores = scorer.score(new Float32Array([1, 0]));
    const { tags } = scorer.row(scores, 0);
    expect(tags).toEqual(['x', 'y']); // sigmoid(1) ≈ 0.73, sigmoid(0) = 0.5
  });
});
