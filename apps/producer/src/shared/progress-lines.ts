/** Time as the periodic progress lines see it; tests pass their own. */
export interface ProgressClock {
  now(): number;
  /** Calls `tick` every `ms` milliseconds until the returned function is called. */
  every(ms: number, tick: () => void): () => void;
}

export const systemClock: ProgressClock = {
  now: () => Date.now(),
  every: (ms, tick) => {
    // Unreferenced: a progress line never keeps the process alive.
    const timer = setInterval(tick, ms).unref();
    return () => clearInterval(timer);
  },
};

/**
 * Progress for logs (CI, cron, a pipe): one plain line every interval, written by `write`,
 * with the values of a cli-progress format (`{value}`, `{total}`, `{percentage}` and the
 * payload's fields; `{bar}` is left out):
 *
 *     progress: 120/500 objects (listing…) [1m30s]
 *
 * Nothing is kept but the latest values, so a long run costs one line per interval.
 */
export class ProgressLines {
  private value = 0;
  private total = 0;
  private payload: Record<string, unknown> = {};
  private startedAt = 0;
  private cancel: (() => void) | undefined;

  constructor(
    private readonly format: string,
    private readonly intervalMs: number,
    private readonly write: (line: string) => void,
    private readonly clock: ProgressClock = systemClock,
  ) {}

  start(total: number, payload: Record<string, unknown>): void {
    this.stop();
    this.total = total;
    this.payload = { ...payload };
    this.startedAt = this.clock.now();
    this.cancel = this.clock.every(this.intervalMs, () => this.tick());
  }

  update(value: number, payload: Record<string, unknown>, total?: number): void {
    this.value = value;
    Object.assign(this.payload, payload);
    if (total !== undefined) this.total = total;
  }

  /** Writes the line of the latest values (the clock calls it every interval). */
  tick(): void {
    this.write(this.render());
  }

  render(): string {
    const values: Record<string, unknown> = {
      ...this.payload,
      value: this.value,
      total: this.total,
      percentage: this.total > 0 ? Math.floor((100 * this.value) / this.total) : 0,
    };
    const body = this.format
      .replace(/\{bar\}\s*/g, '')
      .replace(/\{(\w+)\}/g, (token, name: string) => (Object.hasOwn(values, name) ? String(values[name]) : token))
      .trim();
    return `progress: ${body} [${formatElapsed(this.clock.now() - this.startedAt)}]`;
  }

  stop(): void {
    this.cancel?.();
    this.cancel = undefined;
  }
}

/** 45s, 1m30s, 2h05m. */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
