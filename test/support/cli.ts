/** Running the `siglip-batch` command (producer and worker processes) from tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { descendantPids } from './process-metrics';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = `${REPO_ROOT}node_modules/.bin/siglip-batch`;
export const TINY_MODEL = `${REPO_ROOT}fixtures/models/tiny-siglip`;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(CLI, args, { env, cwd: REPO_ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`siglip-batch ${args.join(' ')} timed out after ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface WorkerProcess {
  child: ChildProcess;
  /** Everything the worker wrote to stderr (its log). */
  log(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `cwd`: the worker's working directory (default: the repository root). */
export function startWorker(args: string[], env: NodeJS.ProcessEnv, cwd = REPO_ROOT): WorkerProcess {
  const child = spawn(CLI, ['worker', '--json', ...args], { env, cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
    if (process.env['SIGLIP_TEST_VERBOSE']) process.stderr.write(chunk);
  });
  return {
    child,
    log: () => log,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        // SIGKILL cannot be forwarded by the launcher: kill the worker app process with it.
        const killTree = () => {
          for (const pid of descendantPids(child.pid!)) {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {
              // already gone
            }
          }
          child.kill('SIGKILL');
        };
        const timer = setTimeout(killTree, 60_000);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
        if (signal === 'SIGKILL') killTree();
        else child.kill(signal);
      }),
  };
}

/** Waits until the worker logged "worker started" (its checks passed and its queue is open). */
export async function waitForWorkerStart(worker: WorkerProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (worker.log().includes('"worker started"')) return;
    if (worker.child.exitCode !== null) throw new Error(`worker exited with ${worker.child.exitCode}: ${worker.log()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`worker did not start within ${timeoutMs} ms: ${worker.log()}`);
}

export interface StatusJson {
  run: string;
  state: string;
  shards: { planned: number; done: number; failed: number; active: number; waiting: number };
  objects: { planned: number; done: number; ok: number; error: number; byErrorCode: Record<string, number>; inferred: number };
  rate: number | null;
  eta: number | null;
  workers: number | null;
  reason: string | null;
}

/**
 * Polls a queue until nothing is waiting, active, prioritized or delayed: after a run completes,
 * the jobs its finaliser queued (index-partition merges) may still be running.
 */
export async function waitForQueueAtRest(
  queue: { getJobCounts(...types: string[]): Promise<Record<string, number>> },
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = await queue.getJobCounts('waiting', 'active', 'prioritized', 'delayed');
    if (Object.values(counts).every((n) => n === 0)) return;
    if (Date.now() > deadline) throw new Error(`queue not at rest after ${timeoutMs} ms: ${JSON.stringify(counts)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Polls the run's record in Redis until it ends (cheaper than a `status` process per poll). */
export async function waitForRunEnd(
  readState: () => Promise<{ state: string } | undefined>,
  timeoutMs = 240_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  while (Date.now() < deadline) {
    last = (await readState())?.state;
    if (last === 'completed' || last === 'failed' || last === 'cancelled') return last;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`run did not end within ${timeoutMs} ms; last state ${last}`);
}
