import { describe, expect, it } from 'vitest';
import type { RunRecord } from '@siglip-batch/pipeline';
import type { RunStatus } from '../status/run-status';
import { escapeHtml, html } from './html';
import { renderRunPage, renderRunsPage, runSummaryOf } from './run-pages';

const record = {
  spec: {
    runId: 'night-1',
    source: 's3://bucket/<img>/',
    output: 's3://bucket/out',
    model: { checkpoint: 'tiny"model', variant: 'fp32', hash: 'ab'.repeat(16) },
  },
  queue: 'siglip-abababababababab-fp32',
  state: 'running',
  shardsPlanned: 10,
  objectsPlanned: 1000,
  listingComplete: true,
  shardsDone: 4,
  objectsOk: 390,
  objectsError: 10,
  errorCodes: { decode_failed: 7, '<script>': 3 },
  inferred: 390,
  failedShards: { 7: 'boom <b>' },
  shardsFailed: 3,
  failedCodes: { inference: 2, stalled: 1 },
  recentFailures: [{ shard: 7, code: 'inference', reason: 'boom <b>', at: '2026-01-01T00:01:00.000Z' }],
  createdAt: '2026-01-01T00:00:00.000Z',
  firstShardAt: null,
  lastShardAt: null,
  finishedAt: null,
  reason: null,
} as unknown as RunRecord;

const status: RunStatus = {
  run: 'night-1',
  state: 'running',
  shards: { planned: 10, done: 4, failed: 1, active: 2, waiting: 3, listingComplete: true },
  objects: { planned: 1000, done: 400, ok: 390, error: 10, byErrorCode: record.errorCodes, inferred: 390 },
  rate: 12.5,
  eta: 48,
  queue: record.queue,
  workers: 2,
  reason: null,
  source: 'redis',
};

const options = { refreshSeconds: 5, queuesPath: '/queues/' };

describe('html', () => {
  it('escapes every interpolated value', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    expect(html`<p title="${'"x"'}">${'<b>'}${html`<i>ok</i>`}</p>`.html).toBe('<p title="&quot;x&quot;">&lt;b&gt;<i>ok</i></p>');
  });
});

describe('run pages', () => {
  it('show a run’s progress, rate, ETA, shards, error codes, failed shards and error rows, escaped', () => {
    const page = renderRunPage(
      { status, record, errors: { rows: [{ uri: 's3://bucket/<x>.jpg', errorCode: 'decode_failed', error: 'bad <data>', file: 'errors-00000001.parquet' }], files: 1, truncated: false } },
      options,
    );
    expect(page).toContain('<meta http-equiv="refresh" content="5">');
    expect(page).toContain('data-field="objects-done">400<');
    expect(page).toContain('data-field="objects-planned">1,000<');
    expect(page).toContain('data-field="percent">40.0%<');
    expect(page).toContain('data-field="rate">12.5<');
    expect(page).toContain('data-field="eta">48 s<');
    expect(page).toContain('data-field="shards-active">2<');
    expect(page).toContain('s3://bucket/&lt;x&gt;.jpg');
    expect(page).toContain('&lt;script&gt;');
    expect(page).toContain('boom &lt;b&gt;');
    // The count and the counts by code cover more failed shards than the reasons kept.
    expect(page).toMatch(/id="failed-summary">3 failed \(inference 2, stalled 1\); the last 1 reasons/);
    expect(page).toContain('tiny&quot;model');
    expect(page).not.toMatch(/<script|<b>|<x>/);
  });

  it('list runs with links to their pages', () => {
    const page = renderRunsPage([runSummaryOf(record)], options);
    expect(page).toContain('href="/runs/night-1"');
    expect(page).toContain('40.0%');
    expect(page).toContain('(3 failed)');
    expect(renderRunsPage([], options)).toContain('No runs yet');
    const withQueue = renderRunsPage([], options, [
      { name: 'siglip-abababababababab-fp32', counts: { waiting: 3, active: 2, delayed: 0, failed: 1, completed: 4 }, workers: 0 },
    ]);
    expect(withQueue).toContain('href="/queues/queue/siglip-abababababababab-fp32"');
    expect(withQueue).toContain('<span class="warn">0</span>');
  });
});
