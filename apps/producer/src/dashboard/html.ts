/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** A tagged template that escapes every interpolated value, except {@link Raw} fragments. */
export class Raw {
  constructor(readonly html: string) {}
  toString(): string {
    return this.html;
  }
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Raw {
  let out = strings[0]!;
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1]!;
  });
  return new Raw(out);
}

function render(value: unknown): string {
  if (value instanceof Raw) return value.html;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(value);
}

const STYLE = `
  :root { color-scheme: light; --fg: #1c2330; --muted: #5b6577; --line: #dde2ea; --accent: #2d6cdf; --ok: #1f8a4c; --err: #c0392b; --warn: #b7791f; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: #f5f7fa; }
  header { background: #1c2330; color: #fff; padding: 10px 24px; display: flex; gap: 24px; align-items: baseline; }
  header a { color: #cfe0ff; text-decoration: none; } header strong { font-size: 16px; }
  main { padding: 20px 24px; max-width: 1200px; }
  h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 24px 0 8px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
  .sub { color: var(--muted); margin-bottom: 16px; word-break: break-all; }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 12px; }
  .card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
  .card dt { color: var(--muted); font-size: 12px; } .card dd { margin: 2px 0 0; font-size: 20px; font-variant-numeric: tabular-nums; }
  .bar { height: 14px; background: #e6eaf0; border-radius: 7px; overflow: hidden; margin: 12px 0 4px; display: flex; }
  .bar .ok { background: var(--ok); } .bar .err { background: var(--err); }
  table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
  th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { background: #eef1f6; font-weight: 600; font-size: 12px; color: var(--muted); }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  td.wrap { word-break: break-all; } code { font-size: 12px; }
  .state { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; background: #e6eaf0; }
  .state-completed { background: #d7f2e1; color: var(--ok); } .state-failed, .state-cancelled { background: #f8dcd8; color: var(--err); }
  .state-running, .state-finalizing, .state-listing { background: #dbe7fb; color: var(--accent); }
  .warn { color: var(--warn); } .muted { color: var(--muted); } .empty { color: var(--muted); padding: 10px 0; }
  footer { color: var(--muted); font-size: 12px; padding: 12px 24px 24px; }
`;

/** A whole page: our header, the body, and a meta refresh (no script needed). */
export function layout(options: { title: string; body: Raw; refreshSeconds: number; queuesPath: string }): string {
  const refresh = options.refreshSeconds > 0 ? html`<meta http-equiv="refresh" content="${options.refreshSeconds}">` : html``;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${refresh}
<title>${options.title} · siglip-batch</title>
<style>${new Raw(STYLE)}</style>
</head>
<body>
<header><strong>siglip-batch</strong><a href="/">Runs</a><a href="${options.queuesPath}">Queues (Bull Board)</a></header>
<main>${options.body}</main>
<footer>Rendered ${new Date().toISOString()}${options.refreshSeconds > 0 ? ` · refreshes every ${options.refreshSeconds} s` : ''}</footer>
</body>
</html>
`.html;
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '—';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
