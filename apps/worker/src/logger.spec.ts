import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, logLevelFromEnv } from './logger';

afterEach(() => {
  vi.restoreAllMocks();
});

/** What the logger wrote to stderr for `event`. */
function written(json: boolean, event: Parameters<ReturnType<typeof createLogger>>[0], level?: Parameters<typeof createLogger>[1]): string {
  const lines: string[] = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  createLogger(json, level)(event);
  vi.restoreAllMocks();
  return lines.join('');
}

describe('worker logger', () => {
  const event = {
    level: 'error' as const,
    msg: 'worker error',
    redis: 'redis://h:6379/?password=hunter2-secret',
    error: 'connect to http://key:s3-secret-value@minio:9000 failed',
  };

  it('hides credentials in JSON lines and keeps them valid JSON', () => {
    const line = written(true, event);
    expect(line).not.toMatch(/hunter2-secret|s3-secret-value/);
    expect(JSON.parse(line)).toMatchObject({ redis: 'redis://h:6379/?password=***', error: 'connect to http://***:***@minio:9000 failed' });
  });

  it('hides credentials in text lines', () => {
    const line = written(false, event);
    expect(line).not.toMatch(/hunter2-secret|s3-secret-value/);
    expect(line).toContain('redis=redis://h:6379/?password=***');
  });

  it('writes only events at or above its level (SIGLIP_BATCH_LOG_LEVEL, default info)', () => {
    const at = (level: 'debug' | 'info' | 'warn' | 'error') => ({ level, msg: `a ${level} event` });
    expect(written(false, at('debug'), 'info')).toBe('');
    expect(written(false, at('info'), 'info')).toContain('a info event');
    expect(written(false, at('info'), 'warn')).toBe('');
    expect(written(false, at('error'), 'error')).toContain('a error event');
    expect(written(true, at('debug'), 'debug')).toContain('"a debug event"');
    expect(logLevelFromEnv({})).toBe('info');
    expect(logLevelFromEnv({ SIGLIP_BATCH_LOG_LEVEL: 'warn' })).toBe('warn');
    expect(() => logLevelFromEnv({ SIGLIP_BATCH_LOG_LEVEL: 'loud' })).toThrow(/SIGLIP_BATCH_LOG_LEVEL must be one of error, warn, info, debug, got "loud"/);
  });
});
