/**
 * A Redis of one test's own, for scenarios that restart, kill or reconfigure Redis (issue 6);
 * everything else shares the suite's Redis (REDIS_URL).
 *
 *   const redis = await startPrivateRedis({ appendonly: true });
 *   … run against redis.url …
 *   await redis.restart({ keepData: true });   // same port, same dir: what persistence kept survives
 *   await redis.restart({ keepData: false });  // same port, empty dir: everything is lost
 *   await redis.stop();
 *
 * The server listens on 127.0.0.1 on a port below the kernel's ephemeral range, so that while
 * it is down for a restart no outgoing connection can take its port (and no reconnecting
 * client can connect to itself). Its files live in a temporary directory removed on stop.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './free-port';
import { parseRedisInfo } from './process-metrics';

export interface PrivateRedisOptions {
  /** Append-only persistence (the production setting). @defaultValue false */
  appendonly?: boolean;
  /** `everysec` is the production setting: a SIGKILL may lose the last second. @defaultValue 'everysec' */
  appendfsync?: 'always' | 'everysec' | 'no';
  /** RDB snapshot points (`save` directive); none by default, so only the AOF persists. @defaultValue '' */
  save?: string;
  /** @defaultValue 'noeviction' */
  maxmemoryPolicy?: string;
  /** e.g. `64mb`. @defaultValue 0 (no limit) */
  maxmemory?: string;
  /** Password of the default user (`requirepass`); it is in `url`. */
  password?: string;
  /** Working directory (AOF, RDB). Given: kept on stop. @defaultValue a new temporary directory, removed on stop */
  dir?: string;
  /** Further directives, e.g. `['--hz', '50']`. */
  args?: string[];
  /** @defaultValue $REDIS_SERVER, or `redis-server` on the PATH */
  binary?: string;
  /** @defaultValue 30000 */
  startTimeoutMs?: number;
}

export interface RestartOptions {
  /** true: same directory, so what persistence kept survives; false: the directory is wiped first. */
  keepData: boolean;
  /** How the running server is ended: SIGTERM shuts down cleanly (AOF flushed), SIGKILL is a crash. @defaultValue 'SIGTERM' */
  signal?: 'SIGTERM' | 'SIGKILL';
}

export interface PrivateRedis {
  /** `redis://[:password@]127.0.0.1:<port>`; the same across restarts. */
  readonly url: string;
  readonly port: number;
  readonly password: string | undefined;
  readonly dir: string;
  /** The server process, while one runs. */
  readonly pid: number | undefined;
  /** Ends the server (if running) and starts it again on the same port. */
  restart(options: RestartOptions): Promise<void>;
  /**
   * Sends `signal` (default SIGKILL) and waits for the server to exit. SIGSTOP / SIGCONT
   * return at once: a stopped server is a hung Redis (clients time out), until SIGCONT.
   * `restart` starts it again.
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Ends the server and removes its temporary directory. Safe to call twice. */
  stop(): Promise<void>;
  /** `INFO [section]` as `field → value`. */
  info(section?: string): Promise<Record<string, string>>;
  /** The server's log (its stdout), the last 64 kB. */
  log(): string;
}

const HOW_TO_GET_REDIS_SERVER =
  'Tests that restart or reconfigure Redis start a private `redis-server` and need it installed ' +
  '(Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`), ' +
  'or REDIS_SERVER set to the path of a redis-server binary.';

const NON_TERMINATING = new Set<NodeJS.Signals>(['SIGSTOP', 'SIGCONT', 'SIGTSTP']);

// Servers still running when the test process exits are killed, and their directories removed.
const live = new Set<{ child(): ChildProcess | undefined; dir: string; ownsDir: boolean }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const server of live) {
      server.child()?.kill('SIGKILL');
      if (server.ownsDir) rmSync(server.dir, { recursive: true, force: true });
    }
  });
}

export async function startPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const binary = options.binary ?? process.env['REDIS_SERVER'] ?? 'redis-server';
  const major = redisServerMajorVersion(binary);
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'siglip-redis-'));
  mkdirSync(dir, { recursive: true });
  const password = options.password;
  let port = 0;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let log = '';
  let stopped = false;
  const entry = { child: () => child, dir, ownsDir };
  live.add(entry);
  installExitHook();

  const args = (): string[] => [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--daemonize', 'no',
    '--logfile', '',
    '--save', options.save ?? '',
    '--appendonly', options.appendonly ? 'yes' : 'no',
    '--appendfsync', options.appendfsync ?? 'everysec',
    '--maxmemory', options.maxmemory ?? '0',
    '--maxmemory-policy', options.maxmemoryPolicy ?? 'noeviction',
    // DEBUG SLEEP and friends simulate a stalled server; Redis 7 blocks them unless enabled.
    ...(major >= 7 ? ['--enable-debug-command', 'local'] : []),
    ...(password !== undefined ? ['--requirepass', password] : []),
    ...(options.args ?? []),
  ];

  const launch = async (): Promise<void> => {
    if (log !== '') log += '\n--- restart ---\n';
    const proc = spawn(binary, args(), { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    const append = (chunk: Buffer): void => {
      log = (log + chunk.toString()).slice(-65_536);
    };
    proc.stdout?.on('data', append);
    proc.stderr?.on('data', append);
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    proc.once('exit', () => {
      if (child === proc) child = undefined;
    });
    await waitUntilReady(proc, port, password, options.startTimeoutMs ?? 30_000, () => log);
  };

  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    if (!proc) return;
    proc.kill(signal);
    // A stopped (SIGSTOP) process only acts on the signal once continued.
    proc.kill('SIGCONT');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  // Two test processes may pick the same free port at once: the loser tries another.
  for (let attempt = 1; ; attempt++) {
    port = await stablePort();
    log = '';
    try {
      await launch();
      break;
    } catch (error) {
      await terminate('SIGKILL');
      if (attempt < 3 && /Address already in use/i.test(log)) continue;
      live.delete(entry);
      if (ownsDir) rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  const url = `redis://${password !== undefined ? `:${encodeURIComponent(password)}@` : ''}127.0.0.1:${port}`;
  return {
    url,
    port,
    password,
    dir,
    get pid() {
      return child?.pid;
    },
    async restart({ keepData, signal = 'SIGTERM' }) {
      if (stopped) throw new Error('private redis: restart after stop');
      await terminate(signal);
      if (!keepData) {
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
      }
      await launch();
    },
    async kill(signal = 'SIGKILL') {
      const proc = child;
      if (!proc) return;
      proc.kill(signal);
      if (!NON_TERMINATING.has(signal)) await exited;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await terminate('SIGTERM');
      live.delete(entry);
      if (ownsDir) rmSync(dir, { recursive: true, force: true });
    },
    async info(section) {
      const redis = connect(port, password);
      try {
        return parseRedisInfo(section === undefined ? await redis.info() : await redis.info(section));
      } finally {
        redis.disconnect();
      }
    },
    log: () => log,
  };
}

function redisServerMajorVersion(binary: string): number {
  const probe = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? probe.error.message : probe.stderr.trim() || `exit code ${probe.status}`;
    throw new Error(`redis-server is not available (${binary}: ${why}). ${HOW_TO_GET_REDIS_SERVER}`);
  }
  const match = /v=(\d+)\./.exec(probe.stdout);
  return match ? Number(match[1]) : 0;
}

function connect(port: number, password: string | undefined): Redis {
  const redis = new Redis({
    host: '127.0.0.1',
    port,
    password,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  return redis;
}

async function waitUntilReady(
  proc: ChildProcess,
  port: number,
  password: string | undefined,
  timeoutMs: number,
  log: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`redis-server exited (${proc.exitCode ?? proc.signalCode}) on port ${port}:\n${log()}`);
    }
    const redis = connect(port, password);
    try {
      await redis.connect();
      // While it loads its AOF, Redis answers -LOADING: not ready yet.
      if ((await redis.ping()) === 'PONG') return;
    } catch (error) {
      last = (error as Error).message;
    } finally {
      redis.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server did not answer on port ${port} within ${timeoutMs} ms (${last}):\n${log()}`);
}

/** A free loopback port below the ephemeral range, so nothing else takes it while Redis restarts. */
async function stablePort(): Promise<number> {
  let low = 32768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    // Not Linux: the usual default.
  }
  const floor = 20_000;
  if (Number.isFinite(low) && low - floor > 1000) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = floor + Math.floor(Math.random() * (low - floor));
      if (await canListen(port)) return port;
    }
  }
  return freePort();
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
