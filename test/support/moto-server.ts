import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { freePort } from './free-port';

export interface MotoServer {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

const HOW_TO_GET_MOTO =
  "The tests need a real S3 server: moto's `moto_server` from python3. " +
  "Install it with `python3 -m pip install 'moto[server]'` (or set MOTO_PYTHON to a python that has it, " +
  'or SIGLIP_TEST_S3_ENDPOINT to the URL of an S3 server that is already running).';

/** Starts `python3 -m moto.server` on a free loopback port and waits until it answers. */
export async function startMotoServer(): Promise<MotoServer> {
  const python = process.env['MOTO_PYTHON'] ?? 'python3';
  const probe = spawnSync(python, ['-c', 'import moto.server'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? probe.error.message : (probe.stderr.trim().split('\n').pop() ?? 'unknown error');
    throw new Error(`moto is not available (${python}: ${why}). ${HOW_TO_GET_MOTO}`);
  }
  const port = await freePort();
  const child = spawn(python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitUntilAnswering(endpoint, child, () => stderr);
  return {
    endpoint,
    port,
    stop: () => stopChild(child),
  };
}

async function waitUntilAnswering(endpoint: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`moto_server exited with code ${child.exitCode}: ${stderr()}\n${HOW_TO_GET_MOTO}`);
    }
    try {
      const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  child.kill('SIGKILL');
  throw new Error(`moto_server did not answer on ${endpoint} within 30 s: ${stderr()}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
