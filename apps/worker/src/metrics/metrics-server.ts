import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MetricsServerOptions {
  port: number;
  /** @defaultValue '0.0.0.0' (Prometheus and the kubelet scrape from outside the pod) */
  host?: string;
  /** The Prometheus text exposition. */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Why the worker is not healthy, or null when it is. */
  unhealthy(): string | null;
}

/**
 * `/metrics` (Prometheus) and `/healthz` (200 `ok`, or 503 with the reason) on their own port.
 * Both answer from the event loop, which inference never blocks (ONNX Runtime runs on its own
 * thread), so a long batch does not fail a probe.
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      const reason = options.unhealthy();
      response.writeHead(reason ? 503 : 200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      response.end(reason ? `unhealthy: ${reason}\n` : 'ok\n');
      return;
    }
    if (path === '/metrics') {
      options.metrics().then(
        ({ contentType, body }) => response.writeHead(200, { 'content-type': contentType }).end(body),
        (error: Error) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${error.message}\n`),
      );
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /healthz\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Why a worker is unhealthy: shutting down, its loop not running, or Redis not ready. */
export function workerHealthProblem(state: { stopping: boolean; running: boolean; redisStatus: string }): string | null {
  if (state.stopping) return 'shutting down';
  if (!state.running) return 'worker not running';
  if (state.redisStatus !== 'ready') return `redis connection ${state.redisStatus}`;
  return null;
}
