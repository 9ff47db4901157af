import { describe, expect, it } from 'vitest';
import { SourceAccess } from '@siglip-batch/pipeline';
import { AllowList } from './allow-list';

/** What a shard of a run with this source would decide for `uri` on a worker with `allow`. */
async function decide(allow: string[], source: { source: string; sourceKind: 's3' | 'file' | 'manifest-text' | 'manifest-parquet' }, uri: string) {
  return new SourceAccess(source, new AllowList(allow).accessFor(source)).check(uri);
}

describe('AllowList with --allow', () => {
  it('reads objects under the given locations, compared by whole path segments, whatever the run says its source is', async () => {
    const allow = ['s3://photos/2026', 'file:///data/images/'];
    const run = { source: 's3://photos/2026/', sourceKind: 's3' as const };
    expect(await decide(allow, run, 's3://photos/2026/a.jpg')).toMatchObject({ ok: true });
    expect(await decide(allow, run, 's3://photos/2026-old/a.jpg')).toMatchObject({ ok: false, code: 'not_allowed' });
    expect(await decide(allow, run, 's3://other/2026/a.jpg')).toMatchObject({ ok: false, code: 'not_allowed' });
    expect(await decide(allow, run, 'file:///data/imagesX/y.png')).toMatchObject({ ok: false, code: 'not_allowed' });
    expect(await decide(allow, run, 'file:///etc/passwd')).toMatchObject({ ok: false, code: 'not_allowed' });
    expect(await decide(allow, run, 'file:///data/images/../../etc/passwd')).toMatchObject({ ok: false, code: 'not_allowed' });
    // A forged run spec naming another source does not widen it.
    expect(await decide(allow, { source: 's3://secrets/', sourceKind: 's3' }, 's3://secrets/key.png')).toMatchObject({ ok: false, code: 'not_allowed' });
  });

  it('lets an operator widen what a manifest may name', async () => {
    const manifest = { source: 's3://photos/lists/m.txt', sourceKind: 'manifest-text' as const };
    expect(await decide([], manifest, 's3://photos/2026/a.jpg')).toMatchObject({ ok: false, code: 'not_allowed' });
    expect(await decide(['s3://photos/2026/'], manifest, 's3://photos/2026/a.jpg')).toMatchObject({ ok: true });
  });

  it('names every bad --allow entry in one error', () => {
    expect(() => new AllowList(['s3://photos/', 'http://x/y', 'gs://b/c'])).toThrow(/http:\/\/x\/y.*gs:\/\/b\/c/);
  });
});

describe('AllowList without --allow: the run’s own S3 source, never local files', () => {
  it('reads the S3 prefix the run lists and nothing beside it', async () => {
    const run = { source: 's3://photos/2026', sourceKind: 's3' as const };
    expect(await decide([], run, 's3://photos/2026/a.jpg')).toMatchObject({ ok: true });
    expect(await decide([], run, 's3://photos/2027/a.jpg')).toMatchObject({ ok: false, code: 'not_allowed' });
  });

  it('reads a manifest’s objects only in the folder the manifest is in, and says how to widen that', async () => {
    const run = { source: 's3://photos/lists/m.txt', sourceKind: 'manifest-text' as const };
    expect(await decide([], run, 's3://photos/lists/img/a.png')).toMatchObject({ ok: true });
    const refused = await decide([], run, 's3://other-bucket/a.png');
    expect(refused).toMatchObject({ ok: false, code: 'not_allowed' });
    expect((refused as { message: string }).message).toMatch(/start the workers with --allow/);
  });

  it('never reads the worker’s own disk, whatever a (forged) run spec in Redis says', async () => {
    for (const run of [
      { source: 'file:///', sourceKind: 'file' as const },
      { source: 'file:///home/app', sourceKind: 'file' as const },
      { source: 'file:///home/app/m.txt', sourceKind: 'manifest-text' as const },
    ]) {
      expect(new AllowList([]).accessFor(run).roots).toEqual([]);
      expect(await decide([], run, 'file:///etc/hostname')).toMatchObject({ ok: false, code: 'not_allowed' });
    }
    expect(new AllowList([]).describe()).toMatch(/no local files/);
  });
});
