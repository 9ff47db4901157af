import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { redactSecrets } from './secret-redaction';

const SECRET = 'Pw9-zq7Xk';

/** Each credential form ioredis accepts in a URL, and the S3 endpoint forms. */
const FORMS: Array<[string, string, string]> = [
  ['user-info user:password', `redis://alice:${SECRET}@host:6379/0`, 'redis://***:***@host:6379/0'],
  ['user-info :password', `redis://:${SECRET}@host:6379`, 'redis://:***@host:6379'],
  ['user-info lone token', `redis://${SECRET}@host:6379`, 'redis://***@host:6379'],
  ['percent-encoded password', `redis://:${encodeURIComponent('s/ec@r:et')}@host`, 'redis://:***@host'],
  ['unencoded @ and / in the password', 'redis://:a@b/c@host:6379', 'redis://:***@host:6379'],
  ['a whole URL whose password holds a space', 'redis://:two words@host:6379', 'redis://:***@host:6379'],
  ['?password=', `redis://host:6379/?password=${SECRET}`, 'redis://host:6379/?password=***'],
  ['?username=&password=', `redis://host:6379/2?username=alice&password=${SECRET}&db=2`, 'redis://host:6379/2?username=***&password=***&db=2'],
  ['rediss:// user-info', `rediss://default:${SECRET}@cache.example.com:6380`, 'rediss://***:***@cache.example.com:6380'],
  ['rediss:// ?password=', `rediss://cache.example.com:6380?password=${SECRET}`, 'rediss://cache.example.com:6380?password=***'],
  ['redis+sentinel://', `redis+sentinel://u:${SECRET}@s1:26379,s2:26379/mymaster?sentinelPassword=${SECRET}`, 'redis+sentinel://***:***@s1:26379,s2:26379/mymaster?sentinelPassword=***'],
  ['protocol-relative', `//:${SECRET}@host:6379`, `//:***@host:6379`],
  ['unix socket with ?password=', `/run/redis.sock?password=${SECRET}&db=1`, '/run/redis.sock?password=***&db=1'],
  ['unix socket URL', `redis://:${SECRET}@/run/redis.sock`, 'redis://:***@/run/redis.sock'],
  ['S3 endpoint with user-info', `https://AKID:${SECRET}@minio.internal:9000`, 'https://***:***@minio.internal:9000'],
  ['presigned URL', `https://b.s3.amazonaws.com/k.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20260101&X-Amz-Signature=${SECRET}&X-Amz-Security-Token=${SECRET}`, 'https://b.s3.amazonaws.com/k.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Security-Token=***'],
  ['authorization header', `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/s3/aws4_request, Signature=${SECRET}`, 'AWS4-HMAC-SHA256 Credential=***, Signature=***'],
];

describe('redactSecrets', () => {
  it.each(FORMS)('%s', (_, input, expected) => {
    const out = redactSecrets(input, {});
    expect(out).toBe(expected);
    expect(out).not.toContain(SECRET);
  });

  it('redacts the URLs inside a message, and keeps the rest of it', () => {
    const message = `Redis is not reachable at redis://h:6379/?password=${SECRET} (connect ECONNREFUSED 10.0.0.1:6379); endpoint "http://k:${SECRET}@s3:9000".`;
    expect(redactSecrets(message, {})).toBe('Redis is not reachable at redis://h:6379/?password=*** (connect ECONNREFUSED 10.0.0.1:6379); endpoint "http://***:***@s3:9000".');
  });

  it('redacts inside JSON log lines without eating the quotes', () => {
    const line = JSON.stringify({ msg: 'worker started', redis: `redis://h:1/?password=${SECRET}`, s3: `http://u:${SECRET}@m:9000` });
    const out = redactSecrets(line, {});
    expect(JSON.parse(out)).toEqual({ msg: 'worker started', redis: 'redis://h:1/?password=***', s3: 'http://***:***@m:9000' });
  });

  it('hides secret values of the environment wherever they appear, raw or percent-encoded', () => {
    const env = {
      REDIS_URL: `redis://default:${encodeURIComponent('p@ss/word!')}@h:6379`,
      AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG',
      SIGLIP_BATCH_DASHBOARD_PASSWORD: 'dash-board-pw',
      HF_TOKEN: 'hf_abcdefghijklmnop',
    };
    const out = redactSecrets('auth p@ss/word! and p%40ss%2Fword! failed; key wJalrXUtnFEMI/K7MDENG; dash-board-pw; default user', env);
    expect(out).toBe('auth *** and *** failed; key ***; ***; default user');
    expect(redactSecrets('Authorization: Bearer hf_abcdefghijklmnop', env)).toBe('Authorization: Bearer ***');
    expect(redactSecrets('x', { REDIS_URL: `redis://h:1/?password=${SECRET}` })).toBe('x');
    expect(redactSecrets(`said ${SECRET}`, { REDIS_URL: `redis://h:1/?password=${SECRET}` })).toBe('said ***');
  });

  it('leaves URIs without credentials alone: S3 keys may hold @, hf:// names a revision after @', () => {
    for (const text of ['s3://bucket/img@2x.png', 'hf://org/siglip-base@0123abcd', 'hf://org/name@v1.0 pulled', 'redis://127.0.0.1:6379', 'file:///data/a@b.jpg', 'http://127.0.0.1:3000/runs/r-1?refresh=5', 'key=value user alice']) {
      expect(redactSecrets(text, {})).toBe(text);
    }
  });

  it('covers what ioredis reads as a password from each form', () => {
    // The forms above are ones ioredis really takes a password from (it parses a URL on construction).
    for (const url of [`redis://:${SECRET}@h:1`, `redis://h:1/?password=${SECRET}`, `rediss://u:${SECRET}@h:1`, `/run/redis.sock?password=${SECRET}`]) {
      const redis = new Redis(url, { lazyConnect: true });
      expect(redis.options.password).toBe(SECRET);
      expect(redactSecrets(url, {})).not.toContain(SECRET);
      redis.disconnect();
    }
  });
});

describe('a REDIS_URL', () => {
  it('never shows its password', () => {
    expect(redactSecrets('redis://user:s3cret@host:6379/0', {})).not.toContain('s3cret');
  });
});
