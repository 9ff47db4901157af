/**
 * What to tell a person whose AWS settings are missing: every place the SDK looks, in the
 * SDK's terms, so the fix is one read away.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The profile and files the SDK reads, as it names them. */
function profileFiles(env: NodeJS.ProcessEnv): { profile: string; config: string; credentials: string } {
  const home = env['HOME'] ? '~' : homedir();
  return {
    profile: env['AWS_PROFILE'] || 'default',
    config: env['AWS_CONFIG_FILE'] || join(home, '.aws', 'config'),
    credentials: env['AWS_SHARED_CREDENTIALS_FILE'] || join(home, '.aws', 'credentials'),
  };
}

/** The message for S3 without a region: every place one can be set. */
export function missingRegionMessage(env: NodeJS.ProcessEnv = process.env): string {
  const { profile, config } = profileFiles(env);
  // An empty AWS_REGION (`AWS_REGION=${AWS_REGION}` in a compose file) counts as set for the SDK.
  const empty = ['AWS_REGION', 'AWS_DEFAULT_REGION'].filter((name) => env[name] === '');
  return (
    `no AWS region for S3${empty.length > 0 ? ` (${empty.join(' and ')} set but empty)` : ''}: set AWS_REGION (or AWS_DEFAULT_REGION), pass --region, or add \`region = …\` to profile "${profile}" ` +
    `in ${config} (AWS_PROFILE and AWS_CONFIG_FILE choose them)`
  );
}

/** The message for S3 without credentials: every source of the SDK's default chain, in its order. */
export function missingCredentialsMessage(env: NodeJS.ProcessEnv = process.env, detail?: string): string {
  const { profile, config, credentials } = profileFiles(env);
  return (
    'no AWS credentials found; looked at AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), ' +
    `profile "${profile}" (AWS_PROFILE) in ${credentials} and ${config} (keys, SSO, credential_process, role), ` +
    'AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, the container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI) ' +
    `and EC2 instance metadata: set one of them${detail ? ` (${detail})` : ''}`
  );
}
