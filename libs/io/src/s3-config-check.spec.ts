import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { s3OptionsFromEnv } from './open-store';
import { assertS3RegionConfigured } from './s3-config-check';
import { S3ConfigError } from './s3-config-error';
import { missingCredentialsMessage } from './s3-config-messages';
import { s3StoreError } from './s3-error';

const dirs: string[] = [];
afterEach(() => {
  vi.unstubAllEnvs();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** No region anywhere: no variables, and profile files that do not exist (or hold `config`). */
function isolate(config?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'aws-config-'));
  dirs.push(dir);
  for (const name of ['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3']) vi.stubEnv(name, undefined);
  const file = join(dir, 'config');
  if (config !== undefined) writeFileSync(file, config);
  vi.stubEnv('AWS_CONFIG_FILE', file);
  vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', join(dir, 'credentials'));
  return file;
}

describe('S3 configuration checks', () => {
  it('no region anywhere: a config error naming AWS_REGION, --region and the profile', async () => {
    isolate();
    const error = await assertS3RegionConfigured({}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(S3ConfigError);
    expect((error as Error).message).toMatch(/^no AWS region for S3: set AWS_REGION \(or AWS_DEFAULT_REGION\), pass --region, or add `region = …` to profile "default" in .*config/);
  });

  it('finds the region where the SDK does: option, variable, profile; an endpoint implies us-east-1', async () => {
    isolate('[profile ops]\nregion = eu-north-1\n');
    expect(await assertS3RegionConfigured({ region: 'ap-south-1' })).toBe('ap-south-1');
    expect(await assertS3RegionConfigured({ endpoint: 'http://127.0.0.1:9000' })).toBe('us-east-1');
    vi.stubEnv('AWS_PROFILE', 'ops');
    expect(await assertS3RegionConfigured({})).toBe('eu-north-1');
    vi.stubEnv('AWS_REGION', 'sa-east-1');
    expect(await assertS3RegionConfigured({})).toBe('sa-east-1');
    // AWS_DEFAULT_REGION comes in through the options read from the environment.
    vi.stubEnv('AWS_REGION', undefined);
    vi.stubEnv('AWS_DEFAULT_REGION', 'me-south-1');
    expect(await assertS3RegionConfigured(s3OptionsFromEnv(process.env))).toBe('me-south-1');
  });

  it('an empty AWS_REGION is named as such', async () => {
    isolate();
    vi.stubEnv('AWS_REGION', '');
    await expect(assertS3RegionConfigured({})).rejects.toThrow(/^no AWS region for S3 \(AWS_REGION set but empty\): set AWS_REGION/);
  });

  it('store errors say what to set instead of the SDK bare words', () => {
    const credentials = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    const message = s3StoreError(credentials, 'k', 'GET s3://b/k').message;
    expect(message).toContain(missingCredentialsMessage(process.env, 'Could not load credentials from any providers'));
    expect(message).toMatch(/AWS_ACCESS_KEY_ID.*AWS_PROFILE.*AWS_WEB_IDENTITY_TOKEN_FILE.*EC2 instance metadata/);
    const region = s3StoreError(new Error('Region is missing'), 'k', 'GET s3://b/k').message;
    expect(region).toMatch(/^GET s3:\/\/b\/k failed: no AWS region for S3: set AWS_REGION/);
  });
});
