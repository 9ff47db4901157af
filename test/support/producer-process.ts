/** A long-running `siglip-batch enqueue` (a producer) the test can watch and kill. */
import { spawn } from 'node:child_process';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { planningQueueName } from '@siglip-batch/jobs';
import { CLI, REPO_ROOT, TINY_MODEL, type CliResult, type WorkerProcess } from './cli';
import { descendantPids } from './process-metrics';

export interface ProducerProcess extends WorkerProcess {
  /** Resolves when the producer exits. */
  done: Promise<CliResult>;
  /** {@link done}, or an error with the producer's log after `ms`. */
  exited(ms?: number): Promise<CliResult>;
  /** The planner names this producer's units are processed under (launcher and app pids). */
  owns(processedBy: string | undefined): boolean;
}

/** `enqueue --json --run <run> --source s3://<bucket>/src/ --out s3://<bucket>/out/ <args>` (or `--resume` when given). */
export function startProducer(runId: string, bucket: string, args: string[], env: NodeJS.ProcessEnv): ProducerProcess {
  const full = args.includes('--resume')
    ? ['enqueue', '--json', '--out', `s3://${bucket}/out/`, ...args]
    : ['enqueue', '--json', '--run', runId, '--model', TINY_MODEL, '--source', `s3://${bucket}/src/`, '--out', `s3://${bucket}/out/`, ...args];
  const child = spawn(CLI, full, { env, cwd: REPO_ROOT });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<CliResult>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
  const pids = new Set<number>();
  const remember = () => {
    if (child.pid !== undefined && child.exitCode === null) for (const pid of [child.pid, ...descendantPids(child.pid)]) pids.add(pid);
  };
  // The app process is a child of the launcher: its pid is noted while it lives.
  const watch = setInterval(remember, 200);
  watch.unref();
  void done.then(() => clearInterval(watch));
  return {
    child,
    done,
    exited: (ms = 180_000) =>
      Promise.race([
        done,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the producer did not exit within ${ms} ms:\n${stderr.slice(-3000)}`)), ms).unref()),
      ]),
    log: () => stderr,
    owns: (processedBy) => {
      remember();
      return processedBy !== undefined && [...pids].some((pid) => processedBy.endsWith(`:${pid}`));
    },
    stop: async (signal = 'SIGTERM') => {
      remember();
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      if (signal === 'SIGKILL') {
        for (const pid of descendantPids(child.pid!)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      child.kill(signal);
      return (await done).code;
    },
  };
}

/** The run's planning queue (one job per planning unit). */
export function planningQueueOf(redis: Redis, prefix: string, runId: string): Queue {
  return new Queue(planningQueueName(runId), { connection: redis, prefix });
}
