import { describe, expect, it } from 'vitest';
import { isCommitId, isHubModelUri, parseHubModelUri } from './hub-model-ref';

describe('parseHubModelUri', () => {
  it('takes hf://org/name with an optional @branch, @tag or @commit', () => {
    expect(parseHubModelUri('hf://Xenova/siglip-base-patch16-224')).toEqual({ repo: 'Xenova/siglip-base-patch16-224', revision: 'main' });
    expect(parseHubModelUri('hf://onnx-community/siglip2-base-patch16-224-ONNX@v1.0')).toEqual({ repo: 'onnx-community/siglip2-base-patch16-224-ONNX', revision: 'v1.0' });
    expect(parseHubModelUri('HF://a/b@refs/pr/1')).toEqual({ repo: 'a/b', revision: 'refs/pr/1' });
    const commit = '0123456789abcdef0123456789abcdef01234567';
    expect(parseHubModelUri(`hf://a/b@${commit}/`).revision).toBe(commit);
    expect(isCommitId(commit)).toBe(true);
    expect(isCommitId('main')).toBe(false);
    expect(isHubModelUri('s3://bucket/model/')).toBe(false);
  });

  it('refuses what is not a repo id or revision, naming both problems', () => {
    expect(() => parseHubModelUri('hf://just-a-name')).toThrow(/"just-a-name" is not a Hub repository id/);
    expect(() => parseHubModelUri('hf://a/../b')).toThrow(/not a Hub repository id/);
    expect(() => parseHubModelUri('hf://a--b/c@')).toThrow(/"a--b\/c" is not a Hub repository id.*; empty revision after @/);
    expect(() => parseHubModelUri('hf://a/b@x..y')).toThrow(/"x\.\.y" is not a branch, tag or commit/);
    expect(() => parseHubModelUri('hf://a/b@-rf')).toThrow(/is not a branch, tag or commit/);
  });
});
