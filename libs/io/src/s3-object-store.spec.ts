/** What only the S3 store has: multipart cleanup, ranged/aborted bodies, client configuration, error classes. */
import { ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import { vi } from 'vitest';
import { isObjectStoreError } from './object-store-error';
import { createS3Client, impliesPathStyle, openLocation, s3OptionsFromEnv } from './open-store';
import { redactSecrets } from './secret-redaction';
import { classifyS3Error } from './s3-error';
import { S3ObjectStore } from './s3-object-store';
import { describe, expect, freePort, patternBytes, s3StoreTest as it, test, TEST_AWS_ENV, TEST_PART_SIZE } from './testing/store-fixtures';

/** Records the command names a client sends, and the raw body streams of GET responses. */
function spyOn(client: S3Client): { commands: string[]; bodies: IncomingMessage[] } {
  const spy = { commands: [] as string[], bodies: [] as IncomingMessage[] };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      spy.commands.push(context.commandName ?? '?');
      const result = await next(args);
      const body = (result.response as { body?: unknown }).body;
      if (context.commandName === 'GetObjectCommand' && body) spy.bodies.push(body as IncomingMessage);
      return result;
    },
    { step: 'deserialize', name: 'testSpy', priority: 'low' },
  );
  return spy;
}

async function pendingUploads(store: S3ObjectStore): Promise<number> {
  const uploads = await store.client.send(new ListMultipartUploadsCommand({ Bucket: store.bucket }));
  return (uploads.Uploads ?? []).length;
}

function failingStream(bytes: Buffer, failAfter: number): Readable {
  return Readable.from(
    (async function* () {
      for (let offset = 0; offset < bytes.length; offset += 1024 * 1024) {
        if (offset >= failAfter) throw new Error('source stream broke');
        yield bytes.subarray(offset, offset + 1024 * 1024);
      }
    })(),
  );
}

describe('S3ObjectStore', () => {
  it('puts 20 MB as a multipart upload (ETag with a part count) and gets it back', async ({ s3Store }) => {
    const spy = spyOn(s3Store.client);
    const bytes = patternBytes(20 * 1024 * 1024, 11);
    await s3Store.put('mp/20mb.bin', bytes);
    expect(spy.commands.filter((name) => name === 'UploadPartCommand').length).toBe(4);
    const info = await s3Store.head('mp/20mb.bin');
    expect(info?.etag).toMatch(/-4$/);
    expect((await s3Store.get('mp/20mb.bin')).equals(bytes)).toBe(true);
  });

  it('a multipart upload whose stream fails after the first part leaves no object and no pending upload', async ({ s3Store }) => {
    const spy = spyOn(s3Store.client);
    const bytes = patternBytes(4 * TEST_PART_SIZE, 12);
    await expect(s3Store.put('mp/broken.bin', failingStream(bytes, 2 * TEST_PART_SIZE + 1))).rejects.toThrow('source stream broke');
    expect(spy.commands).toContain('CreateMultipartUploadCommand');
    expect(spy.commands).toContain('UploadPartCommand');
    expect(spy.commands).toContain('AbortMultipartUploadCommand');
    expect(await s3Store.exists('mp/broken.bin')).toBe(false);
    expect(await pendingUploads(s3Store)).toBe(0);
  });

  it('a multipart upload aborted by its signal after the first part leaves no object and no pending upload', async ({ s3Store }) => {
    const spy = spyOn(s3Store.client);
    const controller = new AbortController();
    s3Store.client.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'UploadPartCommand') controller.abort();
        return result;
      },
      { step: 'deserialize', name: 'abortAfterFirstPart' },
    );
    const bytes = patternBytes(4 * TEST_PART_SIZE, 13);
    const source = Readable.from(
      (async function* () {
        for (let offset = 0; offset < bytes.length; offset += 1024 * 1024) {
          yield bytes.subarray(offset, offset + 1024 * 1024);
          await new Promise((resolve) => setTimeout(resolve, 5));
          // Hold the rest of the body until the first part is in (and the signal fired): on a
          // loaded machine every part could otherwise be queued, and the upload completed,
          // before the first part's response arrives.
          if (offset >= TEST_PART_SIZE && !controller.signal.aborted) {
            await new Promise((resolve) => controller.signal.addEventListener('abort', resolve, { once: true }));
          }
        }
      })(),
    );
    await expect(s3Store.put('mp/aborted.bin', source, { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(spy.commands).toContain('UploadPartCommand');
    expect(await s3Store.exists('mp/aborted.bin')).toBe(false);
    expect(await pendingUploads(s3Store)).toBe(0);
  });

  it('refuses an object over maxBytes from the response headers, closing the body unread', async ({ s3Store }) => {
    await s3Store.put('big/x.bin', patternBytes(4 * 1024 * 1024, 14));
    const spy = spyOn(s3Store.client);
    await expect(s3Store.get('big/x.bin', { maxBytes: 64 * 1024 })).rejects.toMatchObject({ code: 'too_large_bytes' });
    expect(spy.bodies).toHaveLength(1);
    const body = spy.bodies[0]!;
    expect(body.destroyed).toBe(true);
    expect(body.readableEnded).toBe(false);
  });

  it('reads a Parquet-style footer by ranges without reading the object (openBlob)', async ({ s3Store }) => {
    const bytes = patternBytes(1024 * 1024, 15);
    await s3Store.put('blob/x.bin', bytes);
    const spy = spyOn(s3Store.client);
    const blob = await s3Store.openBlob('blob/x.bin');
    const tail = Buffer.from(await blob.slice(blob.size - 8, blob.size).arrayBuffer());
    expect(tail.equals(bytes.subarray(bytes.length - 8))).toBe(true);
    expect(spy.commands).toEqual(['HeadObjectCommand', 'GetObjectCommand']);
    // The object changes: a range read of the old version fails instead of mixing versions.
    await s3Store.put('blob/x.bin', patternBytes(1024 * 1024, 16));
    await expect(blob.slice(0, 10).arrayBuffer()).rejects.toSatisfy((error) => isObjectStoreError(error));
  });

  test('credentials never appear in error messages', async ({ s3Endpoint }) => {
    const accessKeyId = 'AKIAZZZTESTKEYID0001';
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRET0001';
    vi.stubEnv('AWS_ACCESS_KEY_ID', accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', secret);
    vi.stubEnv('AWS_SESSION_TOKEN', 'FwoGZXIvYXdzEXAMPLESESSIONTOKEN0001');
    vi.stubEnv('AWS_REGION', 'us-east-1');
    const closedPort = await freePort();
    const errors: unknown[] = [];
    const targets = [
      openLocation('s3://no-such-bucket-siglip/x/', { endpoint: s3Endpoint, maxAttempts: 1 }),
      openLocation('s3://any-bucket/x/', { endpoint: `http://127.0.0.1:${closedPort}`, maxAttempts: 1, connectionTimeoutMs: 2000 }),
    ];
    try {
      for (const { store, prefix } of targets) {
        for (const attempt of [
          () => store.get(`${prefix}a.jpg`),
          () => store.put(`${prefix}a.jpg`, Buffer.from('x')),
          async () => {
            for await (const _ of store.list(prefix)) break;
          },
          () => store.head(`${prefix}a.jpg`),
        ]) {
          try {
            await attempt();
            errors.push(new Error('no error'));
          } catch (error) {
            errors.push(error);
          }
        }
        for await (const result of store.getMany([{ key: `${prefix}a.jpg` }], { concurrency: 1 })) errors.push(result);
      }
      expect(errors).toHaveLength(10);
      for (const error of errors) {
        const texts = [String(error), JSON.stringify(error), inspect(error, { depth: 10, showHidden: true })];
        if (error instanceof Error) texts.push(error.message, error.stack ?? '');
        for (const text of texts) {
          expect(text).not.toContain(accessKeyId);
          expect(text).not.toContain(secret);
          expect(text).not.toContain('EXAMPLESESSIONTOKEN');
        }
      }
      expect(errors[0]).toMatchObject({ code: 'not_found' });
      expect(errors[5]).toMatchObject({ code: 'transient', transient: true });
      expect(errors[9]).toMatchObject({ ok: false, code: 'transient', transient: true });
    } finally {
      for (const { store } of targets) store.close();
      vi.stubEnv('AWS_ACCESS_KEY_ID', TEST_AWS_ENV.AWS_ACCESS_KEY_ID);
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', TEST_AWS_ENV.AWS_SECRET_ACCESS_KEY);
      vi.unstubAllEnvs();
    }
  });

  it('stopping a listing early neither hangs nor leaves an unhandled rejection', async ({ s3Store }) => {
    for (let i = 0; i < 30; i++) await s3Store.put(`l/${i}`, Buffer.from('x'));
    for await (const _ of s3Store.list('l/', { pageSize: 5 })) break;
    const controller = new AbortController();
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const info of s3Store.list('l/', { pageSize: 5, signal: controller.signal })) {
          seen.push(info.key);
          if (seen.length === 7) controller.abort();
        }
      })(),
    ).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('S3 error classification', () => {
  const cases: [string, object, { code: string; transient: boolean }][] = [
    ['NoSuchKey', { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } }, { code: 'not_found', transient: false }],
    ['HEAD 404', { name: 'NotFound', $metadata: { httpStatusCode: 404 } }, { code: 'not_found', transient: false }],
    ['NoSuchBucket', { name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } }, { code: 'not_found', transient: false }],
    ['AccessDenied', { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }, { code: 'access_denied', transient: false }],
    ['archived (InvalidObjectState)', { name: 'InvalidObjectState', $metadata: { httpStatusCode: 403 } }, { code: 'access_denied', transient: false }],
    ['expired token', { name: 'ExpiredToken', $metadata: { httpStatusCode: 400 } }, { code: 'access_denied', transient: true }],
    ['bad signature', { name: 'SignatureDoesNotMatch', $metadata: { httpStatusCode: 403 } }, { code: 'access_denied', transient: true }],
    ['503 SlowDown', { name: 'SlowDown', $metadata: { httpStatusCode: 503 } }, { code: 'transient', transient: true }],
    ['429', { name: 'TooManyRequestsException', $metadata: { httpStatusCode: 429 } }, { code: 'transient', transient: true }],
    ['500', { name: 'InternalError', $metadata: { httpStatusCode: 500 } }, { code: 'transient', transient: true }],
    ['RequestTimeout', { name: 'RequestTimeout', $metadata: { httpStatusCode: 400 } }, { code: 'transient', transient: true }],
    ['socket timeout', { name: 'TimeoutError', code: 'ETIMEDOUT' }, { code: 'transient', transient: true }],
    ['connection reset', { name: 'Error', code: 'ECONNRESET' }, { code: 'transient', transient: true }],
    ['unknown', { name: 'SomethingNew' }, { code: 'transient', transient: true }],
  ];
  test.each(cases)('%s', (_, error, expected) => {
    expect(classifyS3Error(error)).toMatchObject(expected);
  });

  test('redacts key ids, secrets from the environment and signed URL parts', () => {
    const env = { AWS_SECRET_ACCESS_KEY: 'verysecretvalue/123', AWS_ACCESS_KEY_ID: 'AKIAOTHERFORMAT' };
    const text = redactSecrets(
      'id AKIAIOSFODNN7EXAMPLE secret verysecretvalue/123 url ?X-Amz-Credential=AKIAX%2F2024&X-Amz-Signature=abcdef Credential=ASIAXXXXXXXXXXXXXXXX/20240101',
      env,
    );
    expect(text).not.toMatch(/AKIAIOSFODNN7EXAMPLE|verysecretvalue|abcdef|ASIAXXXX|AKIAX%2F/);
  });
});

describe('S3 client configuration', () => {
  test('reads the standard AWS variables; overrides win', () => {
    const env = {
      AWS_ENDPOINT_URL: 'http://generic:9000',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000',
      AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_MAX_ATTEMPTS: '7',
      AWS_RETRY_MODE: 'adaptive',
      AWS_REQUEST_CHECKSUM_CALCULATION: 'when_supported',
    };
    expect(s3OptionsFromEnv(env)).toEqual({
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      maxAttempts: 7,
      retryMode: 'adaptive',
      requestChecksumCalculation: 'WHEN_SUPPORTED',
    });
    expect(s3OptionsFromEnv({ ...env, AWS_REGION: 'us-west-2' }, { endpoint: 'https://s3.example.com', maxSockets: 64 })).toMatchObject({
      endpoint: 'https://s3.example.com',
      region: 'us-west-2',
      maxSockets: 64,
    });
    expect(s3OptionsFromEnv({ AWS_ENDPOINT_URL: 'http://generic:9000' })).toEqual({ endpoint: 'http://generic:9000' });
    expect(() => s3OptionsFromEnv({ AWS_MAX_ATTEMPTS: 'many' })).toThrow(/AWS_MAX_ATTEMPTS/);
    expect(() => s3OptionsFromEnv({ AWS_RETRY_MODE: 'sometimes' })).toThrow(/AWS_RETRY_MODE/);
  });

  test.each([
    ['http://localhost:9000', true],
    ['http://127.0.0.1:5000', true],
    ['http://[::1]:9000', true],
    ['http://minio.local:9000', false],
    ['https://s3.eu-west-1.amazonaws.com', false],
    [undefined, false],
  ])('endpoint %s implies path-style: %s', (endpoint, expected) => {
    expect(impliesPathStyle(endpoint)).toBe(expected);
  });

  test('the client: WHEN_REQUIRED checksums by default, keep-alive agent sized by maxSockets, path style', async () => {
    const client = createS3Client({ endpoint: 'http://127.0.0.1:9', maxSockets: 17, maxAttempts: 4 });
    try {
      expect(await client.config.requestChecksumCalculation()).toBe('WHEN_REQUIRED');
      expect(await client.config.responseChecksumValidation()).toBe('WHEN_REQUIRED');
      expect(client.config.forcePathStyle).toBe(true);
      expect(await client.config.maxAttempts()).toBe(4);
      expect(await client.config.region()).toBe('us-east-1');
      const handler = client.config.requestHandler as unknown as { httpHandlerConfigs(): { httpAgent?: { maxSockets: number; keepAlive: boolean } } };
      // The handler resolves its options lazily, on the first request.
      await client.send(new ListMultipartUploadsCommand({ Bucket: 'x' })).catch(() => undefined);
      expect(handler.httpHandlerConfigs().httpAgent).toMatchObject({ maxSockets: 17, keepAlive: true });
      const configured = createS3Client({ requestChecksumCalculation: 'WHEN_SUPPORTED', region: 'eu-west-1' });
      expect(await configured.config.requestChecksumCalculation()).toBe('WHEN_SUPPORTED');
      expect(configured.config.forcePathStyle).toBe(false);
      configured.destroy();
    } finally {
      client.destroy();
    }
  });

  test('openLocation: S3 prefixes end in "/", file locations are store roots', () => {
    const s3 = openLocation('s3://bucket-a/images/2024', { endpoint: 'http://127.0.0.1:9' });
    expect(s3.prefix).toBe('images/2024/');
    expect(s3.store.kind).toBe('s3');
    expect(s3.store.uriOf(`${s3.prefix}a.jpg`)).toBe('s3://bucket-a/images/2024/a.jpg');
    s3.store.close();
    const root = openLocation('s3://bucket-a', { endpoint: 'http://127.0.0.1:9' });
    expect(root.prefix).toBe('');
    root.store.close();
    const local = openLocation('/tmp/some dir');
    expect(local.prefix).toBe('');
    expect(local.store.uriOf('a.jpg')).toBe('file:///tmp/some%20dir/a.jpg');
  });
});
