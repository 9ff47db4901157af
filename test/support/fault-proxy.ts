/**
 * A fault-injecting HTTP proxy in front of the S3 test server (moto), for the fault suite
 * (issue 6): an S3 that throttles, fails, resets connections, truncates and trickles.
 *
 *   const proxy = await startFaultProxy({ target: s3Endpoint });
 *   proxy.setRules([{ method: 'GET', path: /\/part-\d+\.parquet/, count: 2, fault: s3Faults.slowDown() }]);
 *   const s3 = makeS3Client(proxy.endpoint);
 *
 * Requests no rule picks pass through untouched: method, path and query, headers (Host
 * included, so SigV4 signatures still hold), request and response bodies streamed both ways
 * with backpressure, HTTP trailers. Hop-by-hop headers are the exception, as for any proxy.
 *
 * `Expect: 100-continue` is answered by the proxy itself, like S3's front end does: it sends
 * `100 Continue` only once it has decided to forward the request, so a fault answered in its
 * place (an error status, a reset) means the client never sends the body at all.
 *
 * A request that does not reach the proxy whole is never completed upstream: a reset PUT is
 * not forwarded, and when a client goes away mid-body the upstream request is destroyed
 * before its body is complete, so moto never creates an object from a cut upload.
 */
import { randomBytes } from 'node:crypto';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

export type FaultMethod = 'GET' | 'PUT' | 'POST' | 'HEAD' | 'DELETE';

/** Answer with an error status and an S3 XML error body instead of forwarding. */
export interface StatusFault {
  type: 'status';
  status: number;
  /** S3 error code, e.g. `SlowDown`, `InternalError`. */
  code: string;
  message: string;
  headers?: Record<string, string>;
}

/**
 * Destroy the client connection with a TCP reset.
 *
 * Without `afterResponseBytes` the request is never forwarded (a reset PUT creates nothing);
 * with `afterRequestBytes` the proxy first takes that many bytes of the request body (an
 * upload cut in the middle). With `afterResponseBytes` the request is forwarded, and the
 * response is cut after its headers and that many body bytes (a truncated GET; for a PUT, the
 * object exists but the client never hears so).
 */
export interface ResetFault {
  type: 'reset';
  afterRequestBytes?: number;
  afterResponseBytes?: number;
}

/** Forward, then hold the response (headers and body) for `ms` before sending it. */
export interface DelayFault {
  type: 'delay';
  ms: number;
}

/** Forward, then trickle the response body: `bytesPerTick` bytes every `tickMs`. */
export interface SlowBodyFault {
  type: 'slowBody';
  /** @defaultValue 1024 */
  bytesPerTick?: number;
  /** @defaultValue 100 */
  tickMs?: number;
}

export type Fault = StatusFault | ResetFault | DelayFault | SlowBodyFault;

/**
 * Which requests get a fault. A request is matched against the rules in order and the first
 * rule that selects it applies; a rule selects a request when the method and path match, the
 * rule is inside its window, has not used up its count and its coin (if any) says so.
 */
export interface FaultRule {
  /** Key of the rule in `stats().byRule`. @defaultValue `rule-<index>` */
  name?: string;
  /** @defaultValue any method */
  method?: FaultMethod | FaultMethod[];
  /**
   * Tested against the decoded path, without the query: `/bucket/run-1/part-00000003.parquet`
   * (path-style addressing), so `/\.parquet$/` works.
   * @defaultValue any path
   */
  path?: RegExp;
  /**
   * Tested against the raw query string without `?`, e.g. `partNumber=2&uploadId=…` picks
   * multipart parts, `x-id=PutObject` one operation (the SDK names it there).
   * @defaultValue any query
   */
  query?: RegExp;
  /** Let the first `skip` matching requests through before the rule may apply. @defaultValue 0 */
  skip?: number;
  /** Inject at most this many faults. @defaultValue unlimited */
  count?: number;
  /** Chance of a fault for each matching request, drawn from a PRNG seeded with `seed`. @defaultValue 1 */
  probability?: number;
  /** @defaultValue 1 + the rule's index */
  seed?: number;
  /** The rule applies for this long after `setRules` (e.g. a 30-second storm). @defaultValue forever */
  forMs?: number;
  fault: Fault;
}

/** S3's own answers for the usual server-side faults. */
export const s3Faults = {
  slowDown: (): StatusFault => ({ type: 'status', status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' }),
  serviceUnavailable: (): StatusFault => ({
    type: 'status',
    status: 503,
    code: 'ServiceUnavailable',
    message: 'Service is unable to handle request.',
  }),
  internalError: (): StatusFault => ({
    type: 'status',
    status: 500,
    code: 'InternalError',
    message: 'We encountered an internal error. Please try again.',
  }),
  reset: (afterRequestBytes?: number): ResetFault => ({ type: 'reset', afterRequestBytes }),
  truncate: (afterResponseBytes: number): ResetFault => ({ type: 'reset', afterResponseBytes }),
  delay: (ms: number): DelayFault => ({ type: 'delay', ms }),
  slowBody: (bytesPerTick = 1024, tickMs = 100): SlowBodyFault => ({ type: 'slowBody', bytesPerTick, tickMs }),
};

export interface InjectedFault {
  at: number;
  rule: string;
  method: string;
  path: string;
  query: string;
  fault: Fault['type'];
}

export interface FaultProxyStats {
  /** Every request the proxy received, and how many of them got a fault. */
  requests: number;
  faults: number;
  byMethod: Record<string, { requests: number; faults: number }>;
  /** Counters of the rules given to the last `setRules` (kept after `clearRules`). */
  byRule: Record<string, { matched: number; injected: number }>;
  /** Requests the upstream server failed (refused, reset) without a fault of ours. */
  upstreamErrors: number;
  /** The injected faults in order (the last 10,000). */
  injected: InjectedFault[];
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`: use it as the S3 endpoint. */
  endpoint: string;
  setRules(rules: FaultRule[]): void;
  clearRules(): void;
  stats(): FaultProxyStats;
  stop(): Promise<void>;
}

export interface FaultProxyOptions {
  /** Base URL of the real server, e.g. moto's `http://127.0.0.1:PORT`. */
  target: string;
  /** @defaultValue a free port */
  port?: number;
  /** Sees every request as it arrives (before any rule), e.g. to check what a client sent. */
  onRequest?: (request: { method: string; path: string; query: string; headers: IncomingHttpHeaders }) => void;
}

interface LiveRule {
  name: string;
  rule: FaultRule;
  path: RegExp | undefined;
  query: RegExp | undefined;
  random: () => number;
  since: number;
  matched: number;
  injected: number;
}

const MAX_INJECTED_LOG = 10_000;

// Hop-by-hop headers belong to one connection; `expect` is answered here (see above).
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  if (target.protocol !== 'http:') throw new Error(`fault proxy: only http targets are supported, got ${options.target}`);
  // moto answers every request with `Connection: close`; no pooling upstream, so a stale
  // pooled socket can never produce a reset we did not inject.
  const upstreamAgent = new Agent({ keepAlive: false, maxSockets: Infinity });
  let rules: LiveRule[] = [];
  const stats = emptyStats();

  const choose = (method: string, path: string, query: string): LiveRule | undefined => {
    const now = Date.now();
    for (const live of rules) {
      const { rule } = live;
      const methods = rule.method === undefined ? undefined : [rule.method].flat();
      if (methods && !methods.includes(method as FaultMethod)) continue;
      if (live.path && !live.path.test(path)) continue;
      if (live.query && !live.query.test(query)) continue;
      if (rule.forMs !== undefined && now - live.since >= rule.forMs) continue;
      live.matched++;
      stats.byRule[live.name]!.matched++;
      if (live.matched <= (rule.skip ?? 0)) continue;
      if (rule.count !== undefined && live.injected >= rule.count) continue;
      // The coin is drawn for every eligible match, so the sequence of decisions depends only
      // on the seed and the order of matching requests.
      if (rule.probability !== undefined && live.random() >= rule.probability) continue;
      live.injected++;
      stats.byRule[live.name]!.injected++;
      return live;
    }
    return undefined;
  };

  const handle = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = decodedPath(queryAt < 0 ? url : url.slice(0, queryAt));
    const query = queryAt < 0 ? '' : url.slice(queryAt + 1);
    options.onRequest?.({ method, path, query, headers: req.headers });
    stats.requests++;
    const perMethod = (stats.byMethod[method] ??= { requests: 0, faults: 0 });
    perMethod.requests++;
    const live = choose(method, path, query);
    if (live) {
      stats.faults++;
      perMethod.faults++;
      stats.injected.push({ at: Date.now(), rule: live.name, method, path, query, fault: live.rule.fault.type });
      if (stats.injected.length > MAX_INJECTED_LOG) stats.injected.shift();
    }
    const fault = live?.rule.fault;
    if (fault?.type === 'status') return answerWithError(req, res, fault, expectsContinue);
    if (fault?.type === 'reset' && fault.afterResponseBytes === undefined) return resetBeforeResponse(req, res, fault, expectsContinue);
    forward(req, res, expectsContinue, fault);
  };

  const forward = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean, fault: Fault | undefined): void => {
    const chunked = /\bchunked\b/i.test(req.headers['transfer-encoding'] ?? '');
    const headers: OutgoingHttpHeaders = withoutHopByHop(req.headers);
    if (chunked) headers['transfer-encoding'] = 'chunked';
    const upstream = httpRequest({
      host: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers,
      agent: upstreamAgent,
    });
    // A client that goes away mid-request must not leave a complete request upstream: the
    // upstream body is ended only on the client's own 'end'.
    let clientGone = false;
    req.on('close', () => {
      if (req.complete) return;
      clientGone = true;
      upstream.destroy();
    });
    res.on('close', () => {
      if (res.writableFinished) return;
      clientGone = true;
      upstream.destroy();
    });
    upstream.on('error', () => {
      if (clientGone || res.destroyed) return;
      stats.upstreamErrors++;
      if (res.headersSent) res.destroy();
      else sendError(res, 502, 'BadGateway', `fault proxy: upstream ${options.target} failed`, resourceOf(req), true);
    });
    upstream.on('response', (upstreamRes) => respond(upstreamRes, res, fault));
    if (expectsContinue) res.writeContinue();
    req.pipe(upstream, { end: false });
    req.on('end', () => {
      if (chunked && Object.keys(req.trailers).length > 0) upstream.addTrailers(req.trailers);
      upstream.end();
    });
  };

  const server = createServer({ requestTimeout: 0 }, (req, res) => handle(req, res, false));
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => handle(req, res, true));
  server.on('clientError', (_error, socket) => socket.destroy());
  // Idle keep-alive connections are never closed from this side: a client reusing a socket
  // just as the server times it out gets a reset nobody injected (and an extra SDK retry).
  server.keepAliveTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    setRules(next) {
      const problems = next.flatMap((rule, index) => ruleProblems(rule).map((problem) => `rule ${rule.name ?? index}: ${problem}`));
      const names = next.map((rule, index) => rule.name ?? `rule-${index}`);
      const duplicate = names.find((name, index) => names.indexOf(name) !== index);
      if (duplicate !== undefined) problems.push(`two rules are named ${duplicate}`);
      if (problems.length > 0) throw new Error(`fault proxy: bad rules: ${problems.join('; ')}`);
      const since = Date.now();
      rules = next.map((rule, index) => ({
        name: rule.name ?? `rule-${index}`,
        rule,
        path: rule.path && statelessRegExp(rule.path),
        query: rule.query && statelessRegExp(rule.query),
        random: mulberry32(rule.seed ?? index + 1),
        since,
        matched: 0,
        injected: 0,
      }));
      stats.byRule = Object.fromEntries(names.map((name) => [name, { matched: 0, injected: 0 }]));
    },
    clearRules() {
      rules = [];
    },
    stats: () => structuredClone(stats),
    stop: () =>
      new Promise<void>((resolve) => {
        rules = [];
        server.close(() => resolve());
        server.closeAllConnections();
        upstreamAgent.destroy();
      }),
  };
}

function ruleProblems(rule: FaultRule): string[] {
  const problems: string[] = [];
  const wholeAtLeast = (value: number | undefined, min: number): boolean => value === undefined || (Number.isInteger(value) && value >= min);
  if (rule.probability !== undefined && !(rule.probability >= 0 && rule.probability <= 1)) problems.push('probability must be within [0, 1]');
  if (!wholeAtLeast(rule.count, 0)) problems.push('count must be a whole number ≥ 0');
  if (!wholeAtLeast(rule.skip, 0)) problems.push('skip must be a whole number ≥ 0');
  if (rule.forMs !== undefined && !(rule.forMs > 0)) problems.push('forMs must be > 0');
  const { fault } = rule;
  if (fault.type === 'status' && !(Number.isInteger(fault.status) && fault.status >= 400 && fault.status <= 599)) {
    problems.push('a status fault needs a status from 400 to 599');
  }
  if (fault.type === 'reset' && fault.afterRequestBytes !== undefined && fault.afterResponseBytes !== undefined) {
    problems.push('a reset is either before the response (afterRequestBytes) or within it (afterResponseBytes), not both');
  }
  if (fault.type === 'reset' && !(wholeAtLeast(fault.afterRequestBytes, 0) && wholeAtLeast(fault.afterResponseBytes, 0))) {
    problems.push('reset byte counts must be whole numbers ≥ 0');
  }
  if (fault.type === 'delay' && !(fault.ms >= 0)) problems.push('delay ms must be ≥ 0');
  if (fault.type === 'slowBody' && !(wholeAtLeast(fault.bytesPerTick, 1) && (fault.tickMs ?? 0) >= 0)) {
    problems.push('slowBody needs bytesPerTick ≥ 1 and tickMs ≥ 0');
  }
  return problems;
}

function emptyStats(): FaultProxyStats {
  return { requests: 0, faults: 0, byMethod: {}, byRule: {}, upstreamErrors: 0, injected: [] };
}

/** Sends the upstream response on, as the fault (if any) says. */
function respond(upstreamRes: IncomingMessage, res: ServerResponse, fault: Fault | undefined): void {
  const status = upstreamRes.statusCode ?? 502;
  const headers = withoutHopByHop(upstreamRes.headers);
  upstreamRes.on('close', () => {
    if (!upstreamRes.complete) res.destroy();
  });
  res.on('close', () => {
    if (!res.writableFinished) upstreamRes.destroy();
  });
  const finish = (): void => {
    if (Object.keys(upstreamRes.trailers).length > 0) res.addTrailers(upstreamRes.trailers);
    res.end();
  };
  switch (fault?.type) {
    case 'delay': {
      const timer = setTimeout(() => passThrough(), fault.ms);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    case 'slowBody':
      res.writeHead(status, upstreamRes.statusMessage, headers);
      void trickle(upstreamRes, res, fault.bytesPerTick ?? 1024, fault.tickMs ?? 100).then(finish, () => res.destroy());
      return;
    case 'reset':
      res.writeHead(status, upstreamRes.statusMessage, headers);
      return truncate(upstreamRes, res, fault.afterResponseBytes ?? 0);
    default:
      return passThrough();
  }

  function passThrough(): void {
    res.writeHead(status, upstreamRes.statusMessage, headers);
    upstreamRes.pipe(res, { end: false });
    upstreamRes.on('end', finish);
  }
}

async function trickle(from: IncomingMessage, res: ServerResponse, bytesPerTick: number, tickMs: number): Promise<void> {
  for await (const chunk of from as AsyncIterable<Buffer>) {
    for (let offset = 0; offset < chunk.length; offset += bytesPerTick) {
      if (res.destroyed) throw new Error('client went away');
      res.write(chunk.subarray(offset, offset + bytesPerTick));
      await new Promise((resolve) => setTimeout(resolve, tickMs));
    }
  }
}

/** Sends the headers and the first `bytes` of the body, then closes the connection. */
function truncate(from: IncomingMessage, res: ServerResponse, bytes: number): void {
  // A FIN after the bytes, not a reset: a reset could discard bytes still in the kernel's
  // send buffer, and the client must see exactly `bytes` before the connection ends.
  // The upstream response is destroyed when the client connection closes (see respond).
  const cut = (): void => {
    from.pause();
    from.removeAllListeners('data');
    res.socket?.destroySoon();
  };
  res.flushHeaders();
  if (bytes <= 0) return cut();
  let remaining = bytes;
  from.on('data', (chunk: Buffer) => {
    if (remaining <= 0) return;
    if (chunk.length < remaining) {
      remaining -= chunk.length;
      res.write(chunk);
      return;
    }
    res.write(chunk.subarray(0, remaining));
    remaining = 0;
    cut();
  });
  // A body shorter than the cut goes through whole; the connection is still closed after it.
  from.on('end', () => {
    if (remaining > 0) cut();
  });
}

function answerWithError(req: IncomingMessage, res: ServerResponse, fault: StatusFault, expectsContinue: boolean): void {
  const send = (closeAfter: boolean): void =>
    sendError(res, fault.status, fault.code, fault.message, resourceOf(req), closeAfter, fault.headers);
  // Without `100 Continue` the client has not sent its body and the connection cannot be
  // reused; otherwise read the body first, so the client sees the status and not a broken pipe.
  if (expectsContinue) return send(true);
  req.resume();
  if (req.readableEnded) return send(false);
  req.once('end', () => send(false));
}

function resetBeforeResponse(req: IncomingMessage, res: ServerResponse, fault: ResetFault, expectsContinue: boolean): void {
  const reset = (): void => {
    req.socket.resetAndDestroy();
  };
  const wanted = fault.afterRequestBytes ?? 0;
  if (wanted <= 0) return reset();
  if (expectsContinue) res.writeContinue();
  let received = 0;
  req.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received >= wanted) reset();
  });
  // A body shorter than the cut: still never forwarded.
  req.on('end', reset);
}

function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  resource: string,
  closeAfter: boolean,
  extraHeaders: Record<string, string> = {},
): void {
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  const hostId = randomBytes(24).toString('base64');
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${xml(code)}</Code><Message>${xml(message)}</Message><Resource>${xml(resource)}</Resource>` +
    `<RequestId>${requestId}</RequestId><HostId>${hostId}</HostId></Error>`;
  res.writeHead(status, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    'x-amz-request-id': requestId,
    'x-amz-id-2': hostId,
    ...(closeAfter ? { connection: 'close' } : {}),
    ...extraHeaders,
  });
  res.end(body);
}

function withoutHopByHop(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = new Set(
    (headers.connection ?? '')
      .split(',')
      .map((token) => token.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && !named.has(name)) out[name] = value;
  }
  return out;
}

function resourceOf(req: IncomingMessage): string {
  return decodedPath((req.url ?? '/').split('?')[0]!);
}

// A /g or /y RegExp keeps state between test() calls; rules must not.
function statelessRegExp(regex: RegExp): RegExp {
  return new RegExp(regex.source, regex.flags.replace(/[gy]/g, ''));
}

function decodedPath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A small seeded PRNG (mulberry32): the same seed gives the same fault pattern. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
