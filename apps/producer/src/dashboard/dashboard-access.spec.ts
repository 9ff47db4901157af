import express from 'express';
import { describe, expect, it } from 'vitest';
import { DashboardAccessError, basicAuth, isLoopbackHost, resolveDashboardAccess } from './dashboard-access';

describe('resolveDashboardAccess', () => {
  const auth = { SIGLIP_BATCH_DASHBOARD_USER: 'ops', SIGLIP_BATCH_DASHBOARD_PASSWORD: 's3cret' };

  it('serves loopback without auth, and requires auth once configured', () => {
    for (const host of ['127.0.0.1', 'localhost', '::1', '[::1]', '127.0.0.2']) expect(resolveDashboardAccess(host, {})).toBeNull();
    expect(resolveDashboardAccess('127.0.0.1', auth)).toEqual({ user: 'ops', password: 's3cret' });
    expect(resolveDashboardAccess('0.0.0.0', auth)).toEqual({ user: 'ops', password: 's3cret' });
  });

  it('refuses any other interface without auth, and half a configuration', () => {
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'dashboard.internal', '128.0.0.1']) {
      expect(isLoopbackHost(host)).toBe(false);
      expect(() => resolveDashboardAccess(host, {})).toThrow(DashboardAccessError);
      expect(() => resolveDashboardAccess(host, {})).toThrow(/SIGLIP_BATCH_DASHBOARD_USER and SIGLIP_BATCH_DASHBOARD_PASSWORD/);
    }
    expect(() => resolveDashboardAccess('127.0.0.1', { SIGLIP_BATCH_DASHBOARD_USER: 'ops' })).toThrow(/needs both/);
    expect(() => resolveDashboardAccess('127.0.0.1', { SIGLIP_BATCH_DASHBOARD_PASSWORD: 'x' })).toThrow(/needs both/);
    expect(() => resolveDashboardAccess('0.0.0.0', { SIGLIP_BATCH_DASHBOARD_USER: 'a:b', SIGLIP_BATCH_DASHBOARD_PASSWORD: 'x' })).toThrow(/':'/);
  });
});

describe('basicAuth', () => {
  it('answers 401 with a challenge unless the credentials match', async () => {
    const app = express();
    app.use(basicAuth({ user: 'ops', password: 'pa:ss' }));
    app.get('/', (_request, response) => void response.send('in'));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };
    const get = (authorization?: string) => fetch(`http://127.0.0.1:${port}/`, authorization ? { headers: { authorization } } : {});
    const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;
    try {
      const none = await get();
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      expect((await get(basic('ops:wrong'))).status).toBe(401);
      expect((await get(basic('ops:pa'))).status).toBe(401);
      expect((await get('Bearer abc')).status).toBe(401);
      const ok = await get(basic('ops:pa:ss'));
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe('in');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
