import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { resolveWorkerEntry } from '../worker-entry';

/**
 * `siglip-batch worker …` runs the worker app in its own process (apps never import each
 * other). Arguments pass through untouched; signals are forwarded so that SIGTERM reaches
 * the worker's graceful shutdown; the worker's exit code becomes ours.
 */
export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run a worker that consumes one model\'s shard queue (see `siglip-batch worker --help`)')
    .helpOption(false)
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .argument('[args...]', 'worker options')
    .action(async (args: string[]) => {
      process.exitCode = await runWorkerProcess(args);
    });
}

export function runWorkerProcess(args: string[]): Promise<number> {
  const entry = resolveWorkerEntry();
  const child = spawn(process.execPath, [entry, ...args], { stdio: 'inherit', env: process.env });
  const forward = (signal: NodeJS.Signals) => () => {
    child.kill(signal);
  };
  const onTerm = forward('SIGTERM');
  const onInt = forward('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      resolve(code ?? (signal ? 128 + signalNumber(signal) : 1));
    });
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return numbers[signal] ?? 1;
}
