import { describe, expect, it } from 'vitest';
import { connectCheckedRedis } from './redis-checks';

const SECRET = 'zq-secret-7781';

describe('connectCheckedRedis: messages never show a password', () => {
  it('an unparsable URL is named, redacted, with the expected form', async () => {
    const error = await connectCheckedRedis(`redis://host:abc/?password=${SECRET}`, {}).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^redis:\/\/host:abc\/\?password=\*\*\* is not a valid Redis URL .*expected a URL such as redis:\/\/127\.0\.0\.1:6379\/0/);
    expect((error as Error).message).not.toContain(SECRET);
  });

  it('a refused connection names the redacted URL, in each credential form', async () => {
    for (const url of [`redis://127.0.0.1:1/?password=${SECRET}`, `redis://:${SECRET}@127.0.0.1:1`, `redis://default:${SECRET}@127.0.0.1:1/0`]) {
      const error = await connectCheckedRedis(url, { retryStrategy: () => null, maxRetriesPerRequest: 0 }, false).catch((e: Error) => e);
      expect((error as Error).message).toMatch(/^Redis is not reachable at redis:\/\/.*127\.0\.0\.1:1.* \(connection refused\)/);
      expect((error as Error).message).not.toContain(SECRET);
    }
  });
});
