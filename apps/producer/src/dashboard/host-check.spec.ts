import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { allowedHostNames, hostNameOf, isAllowedHost } from './host-check';

describe('dashboard Host check', () => {
  it('reads the host name of a Host header', () => {
    expect(hostNameOf('127.0.0.1:3000')).toBe('127.0.0.1');
    expect(hostNameOf('[::1]:3000')).toBe('::1');
    expect(hostNameOf('LocalHost')).toBe('localhost');
    expect(hostNameOf('[::1')).toBe('');
    expect(hostNameOf(undefined)).toBe('');
  });

  it('accepts IP literals and localhost names on a loopback dashboard, nothing else', () => {
    const allowed = allowedHostNames('127.0.0.1', []);
    for (const host of ['127.0.0.1:3000', 'localhost:3000', 'app.localhost', '[::1]:3000', '10.1.2.3:3000']) {
      expect(isAllowedHost(host, allowed), host).toBe(true);
    }
    for (const host of ['evil.example:3000', 'rebind.attacker.test', 'localhost.evil.example', '', undefined]) {
      expect(isAllowedHost(host, allowed), String(host)).toBe(false);
    }
  });

  it('adds the bound host, this machine on a wildcard bind, and the configured names', () => {
    expect(isAllowedHost('dash.internal:3000', allowedHostNames('dash.internal', []))).toBe(true);
    expect(isAllowedHost(`${hostname()}:3000`, allowedHostNames('0.0.0.0', []))).toBe(true);
    const configured = allowedHostNames('0.0.0.0', ['Ops.Example.COM.', ' gpu-box ']);
    expect(isAllowedHost('ops.example.com', configured)).toBe(true);
    expect(isAllowedHost('ops.example.com.:443', configured)).toBe(true);
    expect(isAllowedHost('gpu-box:3000', configured)).toBe(true);
    expect(isAllowedHost('other.example.com', configured)).toBe(false);
  });
});
