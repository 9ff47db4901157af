import { spawn } from 'node:child_process';

/**
 * `--gpus 0,1,…`: one worker process per GPU, each with `--device cuda:N` and the other
 * options unchanged (`--metrics-port P` becomes P, P+1, … per GPU). Signals are forwarded;
 * the exit code is the worst of the children's.
 */
export async function launchPerGpu(list: string, argv: string[], metricsPort?: number): Promise<number> {
  const gpus = list.split(',').map((item) => item.trim());
  if (gpus.some((gpu) => !/^\d+$/.test(gpu))) {
    process.stderr.write(`siglip-batch worker: --gpus must be a comma-separated list of GPU numbers, got ${JSON.stringify(list)}\n`);
    return 2;
  }
  const base = stripOptions(argv, ['--gpus', '--device', '--metrics-port']);
  // One metrics port per process: the given one for the first GPU, the next ones for the others.
  const children = gpus.map((gpu, index) =>
    spawn(
      process.execPath,
      [...process.execArgv, process.argv[1]!, ...base, '--device', `cuda:${gpu}`, ...(metricsPort ? ['--metrics-port', String(metricsPort + index)] : [])],
      { stdio: 'inherit' },
    ),
  );
  const forward = (signal: NodeJS.Signals) => () => children.forEach((child) => child.kill(signal));
  process.on('SIGTERM', forward('SIGTERM'));
  process.on('SIGINT', forward('SIGINT'));
  const codes = await Promise.all(
    children.map((child) => new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))))),
  );
  return Math.max(...codes);
}

/** argv without the named options (and their values, in `--x v` or `--x=v` form). */
export function stripOptions(argv: string[], names: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (names.includes(arg)) {
      i++;
      continue;
    }
    if (names.some((name) => arg.startsWith(`${name}=`))) continue;
    out.push(arg);
  }
  return out;
}
