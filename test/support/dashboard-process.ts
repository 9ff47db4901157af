/** A `siglip-batch dashboard` process for tests, and raw HTTP requests to it (any `Host` header). */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { CLI, REPO_ROOT } from './cli';

export interface DashboardProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Everything it wrote, stdout and stderr. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts `siglip-batch dashboard --port 0 …` and waits for its "listening" line. */
export async function startDashboardProcess(args: string[], env: NodeJS.ProcessEnv): Promise<DashboardProcess> {
  const child = spawn(CLI, ['dashboard', '--port', '0', ...args], { env, cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const match = /dashboard listening on http:\/\/\S+:(\d+)\//.exec(output);
    if (match) return { child, url: `http://127.0.0.1:${match[1]}`, port: Number(match[1]), output: () => output, stop };
    if (child.exitCode !== null) throw new Error(`dashboard exited with ${child.exitCode}: ${output}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`dashboard did not start within 60 s: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** GET on 127.0.0.1:`port` with exactly these headers (fetch forbids setting `Host`). */
export function rawGet(port: number, path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', headers, setHost: !('Host' in headers) }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
