import { redactSecrets } from '@siglip-batch/io/secret-redaction';

/**
 * Structured logs on stderr: JSON lines for machines, short lines for people. Every line goes
 * through the secret redaction, whatever field (a URL, an error from ioredis or the AWS SDK)
 * carries a credential.
 */
export type Log = (event: { level: 'debug' | 'info' | 'warn' | 'error'; msg: string } & Record<string, unknown>) => void;

const LEVELS = ['error', 'warn', 'info', 'debug'] as const;
type Level = (typeof LEVELS)[number];

/**
 * The least important level written: `SIGLIP_BATCH_LOG_LEVEL` (error, warn, info, debug; set by
 * `siglip-batch --log-level`, which starts this process), else info.
 */
export function logLevelFromEnv(env: NodeJS.ProcessEnv = process.env): Level {
  const value = env['SIGLIP_BATCH_LOG_LEVEL'];
  if (value === undefined || value === '') return 'info';
  if (!(LEVELS as readonly string[]).includes(value)) throw new Error(`SIGLIP_BATCH_LOG_LEVEL must be one of ${LEVELS.join(', ')}, got ${JSON.stringify(value)}`);
  return value as Level;
}

export function createLogger(json: boolean, level: Level = logLevelFromEnv()): Log {
  const threshold = LEVELS.indexOf(level);
  return (event) => {
    if (LEVELS.indexOf(event.level) > threshold) return;
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
