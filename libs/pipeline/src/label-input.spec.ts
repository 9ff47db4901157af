import { describe, expect, it } from 'vitest';
import { parseLabelFile, parseLabelList } from './label-input';
import { buildRunSpec, specDifferences } from './run-spec-builder';

describe('labels from the command line and files', () => {
  it('parses a comma-separated list with the default threshold', () => {
    expect(parseLabelList('cat, dog')).toEqual([
      { label: 'cat', prompts: [], threshold: 0.1 },
      { label: 'dog', prompts: [], threshold: 0.1 },
    ]);
  });
  it.each(['', 'cat,,dog', ' , '])('refuses the empty or blank list %j', (text) => {
    expect(() => parseLabelList(text)).toThrow(/non-empty/);
  });
  it('refuses a label given twice', () => {
    expect(() => parseLabelList('cat,cat')).toThrow(/twice/);
  });
  it('reads text files (one per line, # comments)', () => {
    expect(parseLabelFile('# animals\ncat\n\ndog\n', 'labels.txt').labels.map((l) => l.label)).toEqual(['cat', 'dog']);
    expect(() => parseLabelFile('# nothing\n\n', 'labels.txt')).toThrow(/no labels/);
  });
  it('reads JSON and YAML with prompts, thresholds and templates', () => {
    const yaml = 'templates: ["a photo of {}."]\nlabels:\n  - cat\n  - label: dog\n    prompts: ["a dog", "a puppy"]\n    threshold: 0.3\n';
    expect(parseLabelFile(yaml, 'labels.yaml')).toEqual({
      labels: [
        { label: 'cat', prompts: [], threshold: 0.1 },
        { label: 'dog', prompts: ['a dog', 'a puppy'], threshold: 0.3 },
      ],
      templates: ['a photo of {}.'],
    });
    expect(parseLabelFile('["cat"]', 'l.json').labels).toHaveLength(1);
  });
  it('names the problem of a bad file', () => {
    expect(() => parseLabelFile('{"labels": [{"label": "x", "threshold": 2}]}', 'l.json')).toThrow(/labels\.0\.threshold/);
    expect(() => parseLabelFile('{not json', 'l.json')).toThrow(/not valid JSON/);
    expect(() => parseLabelFile('[]', 'l.json')).toThrow(/no labels/);
  });
});

describe('run specs', () => {
  const model = { hash: 'cd'.repeat(32), variant: 'fp32' as const, checkpoint: 'm', embedDim: 8, textLength: 16, imageSize: { height: 224, width: 224 } };
  it('normalises source and output to URIs and fills defaults', () => {
    const spec = buildRunSpec({ runId: 'r1', source: '/data/images', output: 's3://bucket/out', model, labels: null });
    expect(spec).toMatchObject({ source: 'file:///data/images', sourceKind: 'file', output: 's3://bucket/out', shardSize: 1000, templates: ['This is a photo of {}.'] });
    expect(buildRunSpec({ runId: 'r1', source: 's3://bucket/m.parquet', output: '/o', model, labels: null }).sourceKind).toBe('manifest-parquet');
  });
  it('refuses http sources, bad run ids and empty labels', () => {
    expect(() => buildRunSpec({ runId: 'r1', source: 'https://example.com/x', output: '/o', model, labels: null })).toThrow(/http/);
    expect(() => buildRunSpec({ runId: 'Bad:Id', source: '/s', output: '/o', model, labels: null })).toThrow(/invalid run id/);
    expect(() => buildRunSpec({ runId: 'r1', source: '/s', output: '/o', model, labels: [] })).toThrow(/empty/);
  });
  it('tells which fields differ between two specs of a run id', () => {
    const a = buildRunSpec({ runId: 'r1', source: '/s', output: '/o', model, labels: null });
    const b = buildRunSpec({ runId: 'r1', source: '/s', output: '/o', model, labels: null, shardSize: 10 });
    expect(specDifferences(a, a)).toEqual([]);
    expect(specDifferences(a, b)).toEqual(['shardSize']);
  });
  it('freezes float16 storage in the spec; float32 stays implicit, as in specs written before the option', () => {
    const base = { runId: 'r1', source: '/s', output: '/o', model, labels: null };
    const half = buildRunSpec({ ...base, embeddingDtype: 'float16' });
    expect(half.embeddingDtype).toBe('float16');
    expect('embeddingDtype' in buildRunSpec({ ...base, embeddingDtype: 'float32' })).toBe(false);
    expect(specDifferences(buildRunSpec(base), half)).toEqual(['embeddingDtype']);
    expect(specDifferences(buildRunSpec(base), buildRunSpec({ ...base, embeddingDtype: 'float32' }))).toEqual([]);
  });
});
