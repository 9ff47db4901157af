import { hostname } from 'node:os';
import { isIP } from 'node:net';
import type { RequestHandler } from 'express';

/** Extra host names the dashboard answers to, comma-separated (as `--allowed-host`). */
export const DASHBOARD_ALLOWED_HOSTS_ENV = 'SIGLIP_BATCH_DASHBOARD_ALLOWED_HOSTS';

/**
 * The names a `Host` header may carry. A page of another site can reach a loopback dashboard
 * through DNS rebinding (its own name, re-pointed at 127.0.0.1), and the browser then sends
 * that name as `Host`: so only names that cannot be rebound are accepted by default — IP
 * literals, `localhost` and `*.localhost` (browsers resolve those to loopback themselves) —
 * plus the bound host, this machine's name when bound to every interface, and the names
 * configured.
 */
export function allowedHostNames(boundHost: string, configured: readonly string[]): Set<string> {
  const names = new Set(configured.map(normalizeHostName).filter((name) => name !== ''));
  const bound = normalizeHostName(boundHost);
  if (bound === '0.0.0.0' || bound === '::') names.add(normalizeHostName(hostname()));
  else names.add(bound);
  return names;
}

/** The host name of a `Host` header (port and IPv6 brackets removed, lower case), or '' when malformed. */
export function hostNameOf(header: string | undefined): string {
  if (!header) return '';
  const text = header.trim().toLowerCase();
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    return end === -1 ? '' : text.slice(1, end);
  }
  const colon = text.indexOf(':');
  return colon === -1 ? text : text.slice(0, colon);
}

export function isAllowedHost(header: string | undefined, allowed: ReadonlySet<string>): boolean {
  const name = hostNameOf(header);
  if (name === '') return false;
  if (isIP(name) !== 0) return true;
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  return allowed.has(name.replace(/\.$/, ''));
}

/** Express middleware: 421 Misdirected Request for a `Host` outside `allowed`, before anything else runs. */
export function hostCheck(allowed: ReadonlySet<string>): RequestHandler {
  return (request, response, next) => {
    if (isAllowedHost(request.headers.host, allowed)) {
      next();
      return;
    }
    response
      .status(421)
      .type('text/plain')
      .send(`this dashboard does not answer to that host name; add it with --allowed-host or ${DASHBOARD_ALLOWED_HOSTS_ENV}\n`);
  };
}

function normalizeHostName(name: string): string {
  const bare = name.trim().toLowerCase().replace(/\.$/, '');
  return bare.startsWith('[') && bare.endsWith(']') ? bare.slice(1, -1) : bare;
}
