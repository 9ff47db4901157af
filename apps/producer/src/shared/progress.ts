import cliProgress from 'cli-progress';

/**
 * A progress line on a terminal (stderr), nothing when stderr is not a terminal: logs and
 * pipes get only the summary line.
 */
export class ProgressLine {
  private bar: cliProgress.SingleBar | undefined;

  constructor(format: string, enabled = process.stderr.isTTY === true) {
    if (enabled) {
      this.bar = new cliProgress.SingleBar(
        { format, stream: process.stderr, hideCursor: true, clearOnComplete: false, etaBuffer: 50, fps: 5 },
        cliProgress.Presets.shades_classic,
      );
    }
  }

  start(total: number, payload: Record<string, unknown>): void {
    this.bar?.start(total, 0, payload);
  }

  update(value: number, payload: Record<string, unknown>, total?: number): void {
    if (!this.bar) return;
    if (total !== undefined) this.bar.setTotal(total);
    this.bar.update(value, payload);
  }

  stop(): void {
    this.bar?.stop();
  }
}
