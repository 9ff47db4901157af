import type { RunRecord } from '@siglip-batch/pipeline';
import type { RunStatus } from '../status/run-status';
import { formatCount, formatDuration, html, layout, type Raw } from './html';
import type { RecentErrors } from './recent-errors';

export interface PageOptions {
  refreshSeconds: number;
  queuesPath: string;
}

export interface RunSummary {
  run: string;
  state: string;
  objectsPlanned: number;
  objectsDone: number;
  objectsOk: number;
  objectsError: number;
  shardsPlanned: number;
  shardsDone: number;
  shardsFailed: number;
  listingComplete: boolean;
  queue: string;
  createdAt: string;
}

export function runSummaryOf(record: RunRecord): RunSummary {
  return {
    run: record.spec.runId,
    state: record.state,
    objectsPlanned: record.objectsPlanned,
    objectsDone: record.objectsOk + record.objectsError,
    objectsOk: record.objectsOk,
    objectsError: record.objectsError,
    shardsPlanned: record.shardsPlanned,
    shardsDone: record.shardsDone,
    shardsFailed: record.shardsFailed,
    listingComplete: record.listingComplete,
    queue: record.queue,
    createdAt: record.createdAt,
  };
}

export interface QueueSummary {
  name: string;
  /** Waiting (prioritized included), active, delayed (retry backoff), failed, completed (kept) jobs. */
  counts: { waiting: number; active: number; delayed: number; failed: number; completed: number };
  workers: number | null;
}

const runHref = (run: string) => `/runs/${encodeURIComponent(run)}`;
const percent = (done: number, planned: number) => (planned > 0 ? (100 * done) / planned : 0);

function stateBadge(state: string): Raw {
  return html`<span class="state state-${state}" data-field="state">${state}</span>`;
}

/** The model queues and the runs Redis knows, newest first. */
export function renderRunsPage(runs: RunSummary[], options: PageOptions, queues: QueueSummary[] = []): string {
  const rows = runs.map(
    (run) => html`<tr data-run="${run.run}">
      <td><a href="${runHref(run.run)}">${run.run}</a></td>
      <td>${stateBadge(run.state)}</td>
      <td class="num">${percent(run.objectsDone, run.objectsPlanned).toFixed(1)}%</td>
      <td class="num">${formatCount(run.objectsDone)} / ${formatCount(run.objectsPlanned)}${run.listingComplete ? '' : ' (listing…)'}</td>
      <td class="num">${formatCount(run.objectsOk)}</td>
      <td class="num">${formatCount(run.objectsError)}</td>
      <td class="num">${formatCount(run.shardsDone)} / ${formatCount(run.shardsPlanned)}${run.shardsFailed ? html` <span class="warn">(${run.shardsFailed} failed)</span>` : ''}</td>
      <td><code>${run.queue}</code></td>
      <td>${run.createdAt}</td>
    </tr>`,
  );
  const queueRows = queues.map(
    (queue) => html`<tr data-queue="${queue.name}">
      <td><a href="${options.queuesPath}queue/${encodeURIComponent(queue.name)}"><code>${queue.name}</code></a></td>
      <td class="num">${formatCount(queue.counts.waiting)}</td><td class="num">${formatCount(queue.counts.active)}</td>
      <td class="num">${formatCount(queue.counts.delayed)}</td><td class="num">${formatCount(queue.counts.failed)}</td>
      <td class="num">${formatCount(queue.counts.completed)}</td>
      <td class="num">${queue.workers === null ? '?' : queue.workers === 0 ? html`<span class="warn">0</span>` : String(queue.workers)}</td>
    </tr>`,
  );
  const queuesSection =
    queues.length === 0
      ? html``
      : html`<h2>Model queues</h2><table id="queues">
      <thead><tr><th>queue</th><th class="num">waiting</th><th class="num">active</th><th class="num">delayed</th><th class="num">failed</th><th class="num">completed (kept)</th><th class="num">workers</th></tr></thead>
      <tbody>${queueRows}</tbody></table>`;
  const body = html`<h1>Queues and runs</h1>${queuesSection}<h2>Runs</h2>
    <div class="sub">Runs known to Redis, newest first (records expire some days after a run ends; <code>siglip-batch status &lt;run&gt; --out …</code> reads older ones from their folder).</div>
    ${
      runs.length === 0
        ? html`<div class="empty">No runs yet: start one with <code>siglip-batch enqueue</code>.</div>`
        : html`<table id="runs">
      <thead><tr><th>run</th><th>state</th><th class="num">progress</th><th class="num">objects done</th><th class="num">ok</th><th class="num">error</th><th class="num">shards done</th><th>queue</th><th>created</th></tr></thead>
      <tbody>${rows}</tbody></table>`
    }`;
  return layout({ title: 'Runs', body, ...options });
}

export interface RunPageData {
  status: RunStatus;
  record: RunRecord;
  errors: RecentErrors | { unavailable: string };
}

/** One run: progress, rate, ETA, shards, error codes, failed shards and recent error rows. */
export function renderRunPage(data: RunPageData, options: PageOptions): string {
  const { status, record } = data;
  const { objects, shards } = status;
  const pct = status.state === 'completed' && objects.planned === 0 ? 100 : percent(objects.done, objects.planned);
  const okWidth = percent(objects.ok, objects.planned);
  const errWidth = percent(objects.error, objects.planned);
  const card = (label: string, field: string, value: string | number | Raw) =>
    html`<div class="card"><dt>${label}</dt><dd data-field="${field}">${typeof value === 'number' ? formatCount(value) : value}</dd></div>`;
  const codes = Object.entries(objects.byErrorCode).sort((a, b) => b[1] - a[1]);
  // The last failures Redis keeps (at most 20, newest first); older ones are only counted.
  const failed = record.recentFailures;
  const failedCodes = Object.entries(record.failedCodes).map(([code, n]) => `${code} ${n}`).join(', ');
  const workers =
    status.workers === null ? 'unknown' : status.workers === 0 ? html`<span class="warn">none: no worker serves this model</span>` : String(status.workers);

  const errorsSection =
    'unavailable' in data.errors
      ? html`<div class="empty">Error rows unavailable: ${data.errors.unavailable}</div>`
      : data.errors.rows.length === 0
        ? html`<div class="empty" id="recent-errors">No error rows${data.errors.files === 0 ? ' (no errors file yet)' : ''}.</div>`
        : html`<table id="recent-errors">
          <thead><tr><th>uri</th><th>error code</th><th>message</th><th>file</th></tr></thead>
          <tbody>${data.errors.rows.map(
            (row) => html`<tr><td class="wrap"><code>${row.uri}</code></td><td><code>${row.errorCode}</code></td><td class="wrap">${row.error}</td><td><code>${row.file}</code></td></tr>`,
          )}</tbody></table>
          <div class="muted">From the ${Math.min(3, data.errors.files)} newest of ${formatCount(data.errors.files)}${data.errors.truncated ? '+' : ''} errors files.</div>`;

  const body = html`<h1>Run <span data-field="run">${status.run}</span> ${stateBadge(status.state)}</h1>
    <div class="sub">${record.spec.source} → ${record.spec.output}${record.spec.output.endsWith('/') ? '' : '/'}${status.run}/ · model ${record.spec.model.checkpoint}
      (${record.spec.model.variant}) · queue <code>${record.queue}</code> · created ${record.createdAt}${status.reason ? html` · <span class="warn">${status.reason}</span>` : ''}</div>
    <div class="bar" title="${pct.toFixed(1)}%"><div class="ok" style="width:${okWidth.toFixed(3)}%"></div><div class="err" style="width:${errWidth.toFixed(3)}%"></div></div>
    <div><strong data-field="percent">${pct.toFixed(1)}%</strong> — <span data-field="objects-summary">${formatCount(objects.done)} of ${formatCount(objects.planned)} objects</span>${shards.listingComplete ? '' : ' (still listing)'}</div>
    <h2>Progress</h2>
    <dl class="cards">
      ${card('objects done', 'objects-done', objects.done)}
      ${card('objects planned', 'objects-planned', objects.planned)}
      ${card('ok', 'objects-ok', objects.ok)}
      ${card('error', 'objects-error', objects.error)}
      ${card('rate (objects/s)', 'rate', status.rate === null ? '—' : status.rate.toFixed(1))}
      ${card('ETA', 'eta', status.eta === null ? '—' : formatDuration(status.eta))}
      ${card('inferred (incl. retries)', 'objects-inferred', objects.inferred)}
      ${card('workers on the queue', 'workers', workers)}
    </dl>
    <h2>Shards</h2>
    <dl class="cards">
      ${card('planned', 'shards-planned', shards.planned)}
      ${card('done', 'shards-done', shards.done)}
      ${card('active', 'shards-active', shards.active)}
      ${card('waiting', 'shards-waiting', shards.waiting)}
      ${card('failed', 'shards-failed', shards.failed)}
    </dl>
    <h2>Error codes</h2>
    ${
      codes.length === 0
        ? html`<div class="empty" id="error-codes">No errors.</div>`
        : html`<table id="error-codes"><thead><tr><th>code</th><th class="num">objects</th></tr></thead><tbody>${codes.map(
            ([code, n]) => html`<tr data-code="${code}"><td><code>${code}</code></td><td class="num">${formatCount(n)}</td></tr>`,
          )}</tbody></table>`
    }
    ${
      failed.length > 0
        ? html`<h2>Failed shards</h2>
          <div class="sub" id="failed-summary">${formatCount(record.shardsFailed)} failed${failedCodes ? ` (${failedCodes})` : ''}; the last ${failed.length} reasons, newest first:</div>
          <table id="failed-shards"><thead><tr><th class="num">shard</th><th>code</th><th>reason</th><th>at</th></tr></thead><tbody>${failed.map(
            (failure) => html`<tr><td class="num">${failure.shard}</td><td><code>${failure.code}</code></td><td class="wrap">${failure.reason}</td><td>${failure.at}</td></tr>`,
          )}</tbody></table>`
        : ''
    }
    <h2>Recent error rows</h2>
    ${errorsSection}`;
  return layout({ title: `Run ${status.run}`, body, ...options });
}

/** A page for a run Redis does not know. */
export function renderUnknownRunPage(runId: string, options: PageOptions): string {
  const body = html`<h1>Run ${runId}</h1><div class="empty">Redis does not know this run (records expire some days after a run ends).
    <code>siglip-batch status ${runId} --out &lt;output root&gt;</code> reads it from its folder.</div>`;
  return layout({ title: `Run ${runId}`, body, refreshSeconds: 0, queuesPath: options.queuesPath });
}
