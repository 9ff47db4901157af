import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

/** Environment variables that hold the dashboard's basic-auth credentials (never flags: argv is visible to `ps`). */
export const DASHBOARD_USER_ENV = 'SIGLIP_BATCH_DASHBOARD_USER';
export const DASHBOARD_PASSWORD_ENV = 'SIGLIP_BATCH_DASHBOARD_PASSWORD';

export interface BasicCredentials {
  user: string;
  password: string;
}

/** Thrown when the dashboard must not start as configured (architecture §3: loopback unless auth). */
export class DashboardAccessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** 127.0.0.0/8, ::1 and localhost: reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare === 'localhost' || bare === '::1' || bare === '0:0:0:0:0:0:0:1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare) || /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/i.test(bare);
}

/**
 * The credentials the dashboard requires, or null for none. Basic auth is required as soon as
 * it is configured; binding anywhere but loopback without it is refused, with a message that
 * says how to fix it. Half a configuration (a user without a password) is refused too.
 */
export function resolveDashboardAccess(host: string, env: NodeJS.ProcessEnv = process.env): BasicCredentials | null {
  const user = env['SIGLIP_BATCH_DASHBOARD_USER'] ?? '';
  const password = env['SIGLIP_BATCH_DASHBOARD_PASSWORD'] ?? '';
  if ((user === '') !== (password === '')) {
    throw new DashboardAccessError(
      `basic auth needs both ${DASHBOARD_USER_ENV} and ${DASHBOARD_PASSWORD_ENV}; only ${user ? DASHBOARD_USER_ENV : DASHBOARD_PASSWORD_ENV} is set`,
    );
  }
  if (user.includes(':')) throw new DashboardAccessError(`${DASHBOARD_USER_ENV} must not contain ':' (basic auth separates user and password with it)`);
  if (user !== '') return { user, password };
  if (!isLoopbackHost(host)) {
    throw new DashboardAccessError(
      `refusing to serve the dashboard on ${host} without authentication: set ${DASHBOARD_USER_ENV} and ${DASHBOARD_PASSWORD_ENV} ` +
        '(basic auth), or bind to loopback (--host 127.0.0.1, the default) and reach it through an SSH tunnel or port-forward',
    );
  }
  return null;
}

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** Express middleware: 401 with a Basic challenge unless the request carries these credentials. */
export function basicAuth(credentials: BasicCredentials, realm = 'siglip-batch'): RequestHandler {
  // Compared as fixed-length digests, in constant time: neither length nor content leaks.
  const expected = digest(`${credentials.user}:${credentials.password}`);
  return (request, response, next) => {
    const header = request.headers.authorization ?? '';
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    const given = match ? Buffer.from(match[1]!, 'base64').toString('utf8') : undefined;
    if (given !== undefined && timingSafeEqual(digest(given), expected)) {
      next();
      return;
    }
    response
      .status(401)
      .set('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`)
      .type('text/plain')
      .send('authentication required\n');
  };
}
