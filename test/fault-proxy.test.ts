/**
 * The fault-injecting proxy of test/support/fault-proxy.ts, for real: @aws-sdk/client-s3 through
 * the proxy to moto. Pass-through must be exact (multipart, ranged and streamed bodies, chunked
 * bodies with trailers, 100-continue), and each fault must look to the SDK like the real one:
 * 503 SlowDown and 500 InternalError are retried, a reset PUT never creates an object, a
 * truncated GET fails while reading its body, delays and trickles are applied.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { s3Faults, startFaultProxy, type FaultProxy } from './support/fault-proxy';
import { describe, expect, TEST_AWS_ENV, test as harnessTest } from './support/harness';

const MiB = 1024 * 1024;

interface ProxyFixtures {
  proxy: FaultProxy;
  /** An S3 client whose endpoint is the proxy. */
  via: (config?: Partial<S3ClientConfig>) => S3Client;
}

const test = harnessTest.extend<ProxyFixtures>({
  proxy: async ({ s3Endpoint }, use) => {
    const proxy = await startFaultProxy({ target: s3Endpoint });
    await use(proxy);
    await proxy.stop();
  },
  via: async ({ proxy }, use) => {
    const clients: S3Client[] = [];
    await use((config = {}) => {
      const client = new S3Client({
        endpoint: proxy.endpoint,
        region: TEST_AWS_ENV.AWS_REGION,
        forcePathStyle: true,
        credentials: { accessKeyId: TEST_AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: TEST_AWS_ENV.AWS_SECRET_ACCESS_KEY },
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        ...config,
      });
      clients.push(client);
      return client;
    });
    for (const client of clients) client.destroy();
  },
});

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

async function objectExists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (error) {
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw error;
  }
}

describe('pass-through', () => {
  test('a 20 MB multipart upload, a whole GET and a ranged GET arrive intact', async ({ s3, s3Endpoint, bucket, via }) => {
    const expects: Array<string | undefined> = [];
    const proxy = await startFaultProxy({ target: s3Endpoint, onRequest: ({ method, headers }) => method === 'PUT' && expects.push(headers.expect) });
    try {
      const bytes = randomBytes(20 * MiB);
      const client = via({ endpoint: proxy.endpoint });
      const upload = new Upload({ client, params: { Bucket: bucket, Key: 'big/object.bin', Body: bytes }, partSize: 5 * MiB, queueSize: 2 });
      await upload.done();
      // The SDK asks for 100-continue from 2 MiB on: every part went through that handshake.
      expect(expects).toEqual(Array(4).fill('100-continue'));

      const whole = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'big/object.bin' }));
      const got = await whole.Body!.transformToByteArray();
      expect(got.length).toBe(bytes.length);
      expect(sha256(got)).toBe(sha256(bytes));

      const start = 5 * MiB - 1000; // across the first part boundary
      const end = 7 * MiB + 12_345;
      const ranged = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'big/object.bin', Range: `bytes=${start}-${end}` }));
      expect(ranged.$metadata.httpStatusCode).toBe(206);
      expect(ranged.ContentRange).toBe(`bytes ${start}-${end}/${bytes.length}`);
      const slice = await ranged.Body!.transformToByteArray();
      expect(Buffer.from(slice).equals(bytes.subarray(start, end + 1))).toBe(true);

      // Straight from moto, not through the proxy.
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big/object.bin' }));
      expect(head.ContentLength).toBe(bytes.length);

      const stats = proxy.stats();
      expect(stats.byMethod['POST']?.requests).toBe(2); // create + complete
      expect(stats.byMethod['PUT']?.requests).toBe(4); // four parts
      expect(stats.byMethod['GET']?.requests).toBe(2);
      expect(stats.faults).toBe(0);
      expect(stats.upstreamErrors).toBe(0);
    } finally {
      await proxy.stop();
    }
  });

  test('a streamed upload sent aws-chunked with a CRC32 trailer arrives intact', async ({ s3, bucket, via, s3Endpoint }) => {
    const seen: IncomingHttpHeaders[] = [];
    const proxy = await startFaultProxy({ target: s3Endpoint, onRequest: ({ method, headers }) => method === 'PUT' && seen.push(headers) });
    try {
      const bytes = randomBytes(3 * MiB + 17);
      const client = via({ endpoint: proxy.endpoint, requestChecksumCalculation: 'WHEN_SUPPORTED' });
      const body = Readable.from(Array.from({ length: 8 }, (_, i) => bytes.subarray((i * bytes.length) / 8, ((i + 1) * bytes.length) / 8)));
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'streamed.bin', Body: body, ContentLength: bytes.length }));
      // What went over the wire: HTTP chunked framing around an aws-chunked body with a trailer.
      expect(seen).toHaveLength(1);
      expect(seen[0]!['transfer-encoding']).toBe('chunked');
      expect(seen[0]!['content-encoding']).toContain('aws-chunked');
      expect(seen[0]!['x-amz-trailer']).toBe('x-amz-checksum-crc32');
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'streamed.bin' }));
      expect(sha256(await got.Body!.transformToByteArray())).toBe(sha256(bytes));
    } finally {
      await proxy.stop();
    }
  });

  test('method, path, headers, a chunked body, trailers and 100-continue reach the server unchanged', async () => {
    // An echo server as the target shows exactly what the proxy forwards.
    const received: { method?: string; url?: string; headers?: IncomingHttpHeaders; body?: string; trailers?: NodeJS.Dict<string> } = {};
    const echo = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        Object.assign(received, { method: req.method, url: req.url, headers: req.headers, body: sha256(Buffer.concat(chunks)), trailers: req.trailers });
        res.writeHead(200, { 'x-echo': 'yes', trailer: 'x-echo-trailer' });
        res.write('echo ');
        res.addTrailers({ 'x-echo-trailer': 'done' });
        res.end('body');
      });
    });
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    const proxy = await startFaultProxy({ target: `http://127.0.0.1:${(echo.address() as AddressInfo).port}` });
    try {
      const body = randomBytes(300_000);
      const path = '/bucket/a%20key/with%2Bplus.bin?partNumber=2&uploadId=abc%3D';
      const req = httpRequest(`${proxy.endpoint}${path}`, {
        method: 'PUT',
        headers: { 'transfer-encoding': 'chunked', expect: '100-continue', 'x-amz-meta-thing': 'value', trailer: 'x-amz-checksum-crc32' },
      });
      let continued = false;
      req.on('continue', () => {
        continued = true;
        req.write(body.subarray(0, 100_000));
        req.write(body.subarray(100_000));
        req.addTrailers({ 'x-amz-checksum-crc32': 'AAAAAA==' });
        req.end();
      });
      const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      expect(continued).toBe(true);
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-echo']).toBe('yes');
      expect(Buffer.concat(chunks).toString()).toBe('echo body');
      expect(res.trailers).toEqual({ 'x-echo-trailer': 'done' });
      expect(received.method).toBe('PUT');
      expect(received.url).toBe(path);
      expect(received.headers?.['host']).toBe(new URL(proxy.endpoint).host);
      expect(received.headers?.['x-amz-meta-thing']).toBe('value');
      expect(received.headers?.['transfer-encoding']).toBe('chunked');
      expect(received.headers?.['expect']).toBeUndefined();
      expect(received.body).toBe(sha256(body));
      expect(received.trailers).toEqual({ 'x-amz-checksum-crc32': 'AAAAAA==' });
    } finally {
      await proxy.stop();
      echo.close();
    }
  });

  test.for<[string, Record<string, string>]>([
    ['content-length', { 'content-length': String(MiB) }],
    ['chunked', { 'transfer-encoding': 'chunked' }],
  ])('a client that goes away mid-upload (%s) leaves no object', async ([, framing], { s3, bucket, proxy }) => {
    const { port } = new URL(proxy.endpoint);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    const head = [`PUT /${bucket}/cut.bin HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...Object.entries(framing).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
    socket.write(head);
    const part = randomBytes(200_000);
    socket.write(framing['transfer-encoding'] ? `${part.length.toString(16)}\r\n` : '');
    socket.write(part);
    if (framing['transfer-encoding']) socket.write('\r\n');
    // Let the proxy forward what it has, then cut.
    await new Promise((resolve) => setTimeout(resolve, 300));
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await objectExists(s3, bucket, 'cut.bin')).toBe(false);
    expect(proxy.stats().byMethod['PUT']?.requests).toBe(1);
  });
});

describe('faults', () => {
  test('503 SlowDown for the first N matches: the SDK retries and succeeds', async ({ s3, bucket, proxy, via }) => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k.bin', Body: 'payload' }));
    proxy.setRules([{ name: 'storm', method: 'GET', path: /\/k\.bin$/, count: 2, fault: s3Faults.slowDown() }]);
    const got = await via({ maxAttempts: 3 }).send(new GetObjectCommand({ Bucket: bucket, Key: 'k.bin' }));
    expect(await got.Body!.transformToString()).toBe('payload');
    expect(got.$metadata.attempts).toBe(3);
    const stats = proxy.stats();
    expect(stats.byRule['storm']).toEqual({ matched: 3, injected: 2 });
    expect(stats.byMethod['GET']).toEqual({ requests: 3, faults: 2 });
  });

  test('more 503s than attempts: the SDK gives up with S3 SlowDown', async ({ s3, bucket, proxy, via }) => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k.bin', Body: 'payload' }));
    proxy.setRules([{ method: 'GET', count: 3, fault: s3Faults.slowDown() }]);
    const error = await via({ maxAttempts: 3 })
      .send(new GetObjectCommand({ Bucket: bucket, Key: 'k.bin' }))
      .then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({
      name: 'SlowDown',
      message: 'Please reduce your request rate.',
      $metadata: { httpStatusCode: 503, attempts: 3 },
    });
    expect(proxy.stats().byRule['rule-0']).toEqual({ matched: 3, injected: 3 });
  });

  test('500 InternalError on PUT and on HEAD: retried, and the object is whole', async ({ s3, bucket, proxy, via }) => {
    const bytes = randomBytes(100_000);
    proxy.setRules([
      { name: 'put', method: 'PUT', count: 1, fault: s3Faults.internalError() },
      { name: 'head', method: 'HEAD', count: 1, fault: s3Faults.internalError() },
    ]);
    const client = via({ maxAttempts: 2 });
    const put = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'p.bin', Body: bytes }));
    expect(put.$metadata.attempts).toBe(2);
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'p.bin' }));
    expect(head.$metadata.attempts).toBe(2);
    expect(head.ContentLength).toBe(bytes.length);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'p.bin' }));
    expect(sha256(await got.Body!.transformToByteArray())).toBe(sha256(bytes));
    expect(proxy.stats().byMethod).toEqual({ PUT: { requests: 2, faults: 1 }, HEAD: { requests: 2, faults: 1 } });
  });

  test.for([
    ['a small body sent at once, cut after 1,000 bytes', 64 * 1024, s3Faults.reset(1000)],
    ['a 3 MB body behind 100-continue, reset before any byte', 3 * MiB, s3Faults.reset()],
    ['a 3 MB body behind 100-continue, cut after 1 MB', 3 * MiB, s3Faults.reset(MiB)],
  ] as const)('a reset PUT (%s) creates no object; a retry creates it whole', async ([, size, fault], { s3, bucket, proxy, via }) => {
    const bytes = randomBytes(size);
    proxy.setRules([{ method: 'PUT', count: 1, fault }]);
    const put = via({ maxAttempts: 1 }).send(new PutObjectCommand({ Bucket: bucket, Key: 'r.bin', Body: bytes }));
    await expect(put).rejects.toThrow();
    expect(await objectExists(s3, bucket, 'r.bin')).toBe(false);

    proxy.setRules([{ method: 'PUT', count: 1, fault }]);
    const retried = await via({ maxAttempts: 2 }).send(new PutObjectCommand({ Bucket: bucket, Key: 'r.bin', Body: bytes }));
    expect(retried.$metadata.attempts).toBe(2);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'r.bin' }));
    expect(sha256(await got.Body!.transformToByteArray())).toBe(sha256(bytes));
    expect(proxy.stats().byMethod['PUT']).toEqual({ requests: 3, faults: 2 });
  });

  test('503s on one part of a multipart upload: that part is retried and the object is whole', async ({ s3, bucket, proxy, via }) => {
    const bytes = randomBytes(12 * MiB);
    proxy.setRules([{ name: 'part-2', method: 'PUT', query: /(^|&)partNumber=2(&|$)/, count: 2, fault: s3Faults.slowDown() }]);
    await new Upload({ client: via({ maxAttempts: 3 }), params: { Bucket: bucket, Key: 'm.bin', Body: bytes }, partSize: 5 * MiB }).done();
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'm.bin' }));
    expect(sha256(await got.Body!.transformToByteArray())).toBe(sha256(bytes));
    const stats = proxy.stats();
    expect(stats.byRule['part-2']).toEqual({ matched: 3, injected: 2 });
    expect(stats.byMethod['PUT']).toEqual({ requests: 5, faults: 2 }); // three parts, one of them twice more
    expect(stats.injected.map((i) => i.path)).toEqual([`/${bucket}/m.bin`, `/${bucket}/m.bin`]);
  });

  test('a GET reset before any response is retried by the SDK', async ({ s3, bucket, proxy, via }) => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'g.bin', Body: 'whole' }));
    proxy.setRules([{ method: 'GET', count: 1, fault: s3Faults.reset() }]);
    await expect(via({ maxAttempts: 1 }).send(new GetObjectCommand({ Bucket: bucket, Key: 'g.bin' }))).rejects.toMatchObject({ code: 'ECONNRESET' });
    proxy.setRules([{ method: 'GET', count: 1, fault: s3Faults.reset() }]);
    const got = await via({ maxAttempts: 2 }).send(new GetObjectCommand({ Bucket: bucket, Key: 'g.bin' }));
    expect(await got.Body!.transformToString()).toBe('whole');
    expect(got.$metadata.attempts).toBe(2);
  });

  test('a truncated GET: the headers and the first 10,000 bytes, then the connection ends', async ({ s3, bucket, proxy, via }) => {
    const bytes = randomBytes(256 * 1024);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 't.bin', Body: bytes }));
    proxy.setRules([{ method: 'GET', count: 1, fault: s3Faults.truncate(10_000) }]);
    const client = via({ maxAttempts: 3 });
    // The SDK returns once the headers are in; the body fails while it is read (no retry).
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 't.bin' }));
    expect(got.ContentLength).toBe(bytes.length);
    const chunks: Buffer[] = [];
    const readError = await (async () => {
      try {
        for await (const chunk of got.Body as Readable) chunks.push(chunk as Buffer);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(readError).toBeInstanceOf(Error);
    expect(Buffer.concat(chunks).equals(bytes.subarray(0, 10_000))).toBe(true);
    // The rule is used up: the next GET is whole.
    const again = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 't.bin' }));
    expect(sha256(await again.Body!.transformToByteArray())).toBe(sha256(bytes));
  });

  test('delay holds the matching response only; a request timeout turns it into a retry', async ({ s3, bucket, proxy, via }) => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'slow.bin', Body: 'slow' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'fast.bin', Body: 'fast' }));
    proxy.setRules([{ name: 'slow', method: 'GET', path: /\/slow\.bin$/, fault: s3Faults.delay(1500) }]);
    const client = via({ maxAttempts: 1 });
    let started = performance.now();
    const slow = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'slow.bin' }));
    expect(await slow.Body!.transformToString()).toBe('slow');
    expect(performance.now() - started).toBeGreaterThanOrEqual(1490);
    const fast = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'fast.bin' }));
    expect(await fast.Body!.transformToString()).toBe('fast');
    expect(proxy.stats().byRule['slow']).toEqual({ matched: 1, injected: 1 });

    // A response held far longer than the client waits: the SDK times out and retries. (In this
    // SDK `requestTimeout` only logs a warning unless `throwOnRequestTimeout` is set; the
    // inactivity timeout that aborts is `socketTimeout`.)
    proxy.setRules([{ name: 'stuck', method: 'GET', count: 1, fault: s3Faults.delay(60_000) }]);
    const impatient = via({ maxAttempts: 2, requestHandler: { socketTimeout: 500 } });
    started = performance.now();
    const retried = await impatient.send(new GetObjectCommand({ Bucket: bucket, Key: 'slow.bin' }));
    expect(await retried.Body!.transformToString()).toBe('slow');
    expect(retried.$metadata.attempts).toBe(2);
    expect(performance.now() - started).toBeLessThan(30_000);
  });

  test('slowBody trickles the body, which still arrives whole', async ({ s3, bucket, proxy, via }) => {
    const bytes = randomBytes(32 * 1024);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'trickle.bin', Body: bytes }));
    proxy.setRules([{ method: 'GET', fault: s3Faults.slowBody(4096, 50) }]);
    const started = performance.now();
    const got = await via().send(new GetObjectCommand({ Bucket: bucket, Key: 'trickle.bin' }));
    const body = await got.Body!.transformToByteArray();
    // Eight slices of 4 KiB, 50 ms apart.
    expect(performance.now() - started).toBeGreaterThanOrEqual(7 * 50 - 5);
    expect(sha256(body)).toBe(sha256(bytes));
  });

  test('probability: the same seed gives the same faults, another seed others', async ({ bucket, proxy }) => {
    const pattern = async (seed: number): Promise<string> => {
      proxy.setRules([{ method: 'GET', probability: 0.3, seed, fault: s3Faults.slowDown() }]);
      let marks = '';
      for (let i = 0; i < 60; i++) {
        const response = await fetch(`${proxy.endpoint}/${bucket}/missing-${i}`);
        await response.arrayBuffer();
        marks += response.status === 503 ? 'x' : '.';
      }
      return marks;
    };
    const first = await pattern(42);
    expect(await pattern(42)).toBe(first);
    expect(await pattern(7)).not.toBe(first);
    const faults = [...first].filter((mark) => mark === 'x').length;
    expect(faults).toBeGreaterThan(5);
    expect(faults).toBeLessThan(35);
    expect(proxy.stats().byRule['rule-0']?.matched).toBe(60);
  });

  test('forMs: a storm of 503s with S3 error bodies, only inside its window', async ({ bucket, proxy }) => {
    proxy.setRules([{ method: 'GET', forMs: 3000, fault: s3Faults.slowDown() }]);
    const setAt = performance.now();
    const during = await fetch(`${proxy.endpoint}/${bucket}/some/key.jpg?versionId=1`);
    expect(during.status).toBe(503);
    expect(during.headers.get('content-type')).toBe('application/xml');
    expect(during.headers.get('x-amz-request-id')).toMatch(/^[0-9A-F]{16}$/);
    const xml = await during.text();
    expect(xml).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>SlowDown<\/Code><Message>Please reduce your request rate.<\/Message><Resource>\/[^<]+\/some\/key.jpg<\/Resource><RequestId>[0-9A-F]{16}<\/RequestId><HostId>[^<]+<\/HostId><\/Error>$/,
    );
    await new Promise((resolve) => setTimeout(resolve, 3100 - (performance.now() - setAt)));
    const after = await fetch(`${proxy.endpoint}/${bucket}/some/key.jpg`);
    await after.arrayBuffer();
    expect(after.status).toBe(404); // moto's answer: the window is over
    expect(proxy.stats().faults).toBe(1);
  });

  test('bad rules are refused, every problem named, and the rules in force stay', async ({ proxy }) => {
    proxy.setRules([{ name: 'kept', fault: s3Faults.delay(1) }]);
    expect(() =>
      proxy.setRules([
        { probability: 1.5, fault: s3Faults.slowDown() },
        { name: 'twice', count: -1, fault: { type: 'reset', afterRequestBytes: 1, afterResponseBytes: 1 } },
        { name: 'twice', fault: { type: 'status', status: 200, code: 'OK', message: '' } },
      ]),
    ).toThrow(
      'fault proxy: bad rules: rule 0: probability must be within [0, 1]; rule twice: count must be a whole number ≥ 0; ' +
        'rule twice: a reset is either before the response (afterRequestBytes) or within it (afterResponseBytes), not both; ' +
        'rule twice: a status fault needs a status from 400 to 599; two rules are named twice',
    );
    expect(Object.keys(proxy.stats().byRule)).toEqual(['kept']);
  });

  test('rules select by method and path; the first rule that selects a request applies', async ({ s3, bucket, proxy, via }) => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a.bin', Body: 'a' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'b.bin', Body: 'b' }));
    proxy.setRules([
      { name: 'put-a', method: 'PUT', path: /\/a\.bin/, fault: s3Faults.internalError() },
      { name: 'read-b', method: ['GET', 'HEAD'], path: /\/b\.bin/, skip: 1, count: 1, fault: s3Faults.slowDown() },
      { name: 'any-b', path: /\/b\.bin/, fault: s3Faults.delay(1) },
    ]);
    const client = via({ maxAttempts: 2 });
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'a.bin' })); // no rule for HEAD a
    await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'b.bin' })).then((r) => r.Body!.transformToString()); // skipped → any-b
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'b.bin' })); // read-b, retried → any-b
    expect(head.$metadata.attempts).toBe(2);
    const stats = proxy.stats();
    expect(stats.byRule).toEqual({
      'put-a': { matched: 0, injected: 0 },
      'read-b': { matched: 3, injected: 1 },
      'any-b': { matched: 2, injected: 2 },
    });
    expect(stats.byMethod).toEqual({ HEAD: { requests: 3, faults: 2 }, GET: { requests: 1, faults: 1 } });
    expect(stats.injected.map((i) => `${i.rule} ${i.method} ${i.fault}`)).toEqual(['any-b GET delay', 'read-b HEAD status', 'any-b HEAD delay']);
    proxy.clearRules();
    await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'b.bin' })).then((r) => r.Body!.transformToString());
    expect(proxy.stats().faults).toBe(3);
  });
});
