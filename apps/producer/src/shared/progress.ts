import cliProgress from 'cli-progress';
import { Option, type Command } from 'commander';
import { logs } from './cli-log';
import { nonNegativeSeconds } from './parsers';
import { ProgressLines, type ProgressClock } from './progress-lines';

export interface ProgressOptions {
  /** `--progress-interval`: seconds between plain progress lines when stderr is not a terminal; 0 = none. */
  progressInterval: number;
}

/** `--progress-interval <s>` (default 10; 0 = off). */
export function addProgressOption(command: Command): Command {
  return command.addOption(
    new Option('--progress-interval <s>', 'when stderr is not a terminal (CI, cron, a pipe): one progress line every <s> seconds (0 = none)')
      .argParser(nonNegativeSeconds('--progress-interval'))
      .default(10),
  );
}

/**
 * Progress on stderr: a bar on a terminal; elsewhere (logs, pipes) one plain line every
 * `--progress-interval` seconds. Nothing below `--log-level info`.
 */
export class ProgressLine {
  private bar: cliProgress.SingleBar | undefined;
  private lines: ProgressLines | undefined;

  constructor(format: string, options: Partial<ProgressOptions> & { tty?: boolean; clock?: ProgressClock } = {}) {
    if (!logs('info')) return;
    if (options.tty ?? process.stderr.isTTY === true) {
      this.bar = new cliProgress.SingleBar(
        { format, stream: process.stderr, hideCursor: true, clearOnComplete: false, etaBuffer: 50, fps: 5 },
        cliProgress.Presets.shades_classic,
      );
    } else if ((options.progressInterval ?? 0) > 0) {
      this.lines = new ProgressLines(format, options.progressInterval! * 1000, (line) => process.stderr.write(`${line}\n`), options.clock);
    }
  }

  start(total: number, payload: Record<string, unknown>): void {
    this.bar?.start(total, 0, payload);
    this.lines?.start(total, payload);
  }

  update(value: number, payload: Record<string, unknown>, total?: number): void {
    this.lines?.update(value, payload, total);
    if (!this.bar) return;
    if (total !== undefined) this.bar.setTotal(total);
    this.bar.update(value, payload);
  }

  stop(): void {
    this.bar?.stop();
    this.lines?.stop();
  }
}
