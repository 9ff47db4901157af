import { redactSecrets } from '@siglip-batch/jobs';

/**
 * Structured logs on stderr: JSON lines for machines, short lines for people. Every line goes
 * through the secret redaction, whatever field (a URL, an error from ioredis or the AWS SDK)
 * carries a credential.
 */
export type Log = (event: { level: 'debug' | 'info' | 'warn' | 'error'; msg: string } & Record<string, unknown>) => void;

export function createLogger(json: boolean): Log {
  return (event) => {
    if (json) {
      process.stderr.write(`${redactSecrets(JSON.stringify({ time: new Date().toISOString(), ...event }))}\n`);
      return;
    }
    const { level, msg, ...rest } = event;
    const fields = Object.entries(rest)
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
      .join(' ');
    process.stderr.write(redactSecrets(`${new Date().toISOString().slice(11, 19)} ${level.padEnd(5)} ${msg}${fields ? ` ${fields}` : ''}\n`));
  };
}
