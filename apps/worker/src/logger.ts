/** Structured logs on stderr: JSON lines for machines, short lines for people. */
export type Log = (event: { level: 'debug' | 'info' | 'warn' | 'error'; msg: string } & Record<string, unknown>) => void;

export function createLogger(json: boolean): Log {
  return (event) => {
    if (json) {
      process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
      return;
    }
    const { level, msg, ...rest } = event;
    const fields = Object.entries(rest)
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
      .join(' ');
    process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${level.padEnd(5)} ${msg}${fields ? ` ${fields}` : ''}\n`);
  };
}
