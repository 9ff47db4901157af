/** infra/ checked against the code, part compose: see test/infra-images.test.ts for the whole suite's approach. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, read, METRICS_PORT, HEALTH_PATH, COMPOSE_DIR, COMPOSE, OUR_SERVICES, flagValue, composeSeconds } from './support/infra-files';

describe('compose (one machine)', () => {
  const worker = COMPOSE.services['worker']!;
  const workerArgv = worker.command as string[];

  it('builds the images from infra/docker with the repository as context', () => {
    for (const [name, service] of OUR_SERVICES) {
      if (!service.build) continue;
      const context = resolve(COMPOSE_DIR, service.build.context);
      expect(context, name).toBe(resolve(ROOT));
      expect(existsSync(join(context, service.build.dockerfile)), `${name}: ${service.build.dockerfile}`).toBe(true);
    }
  });

  it('runs the workers on the CPU, with models mounted read-only, and stops them after --shutdown-timeout', () => {
    expect(workerArgv[0]).toBe('worker');
    expect(flagValue(workerArgv, '--device')).toBe('cpu');
    const models = worker.volumes!.find((volume) => typeof volume !== 'string' && flagValue(workerArgv, '--model')!.startsWith(`${volume.target}/`));
    expect(models).toMatchObject({ read_only: true });
    expect(composeSeconds(worker.stop_grace_period!) * 1000).toBeGreaterThanOrEqual(Number(flagValue(workerArgv, '--shutdown-timeout')) + 15_000);
  });

  it(`checks worker health on ${HEALTH_PATH} of the metrics port`, () => {
    expect(flagValue(workerArgv, '--metrics-port')).toBe(String(METRICS_PORT));
    expect(worker.healthcheck!.test.join(' ')).toContain(`:${METRICS_PORT}${HEALTH_PATH}`);
  });

  it('has a healthcheck on every long-running service', () => {
    for (const [name, service] of Object.entries(COMPOSE.services)) {
      if (service.restart === 'no' || service.profiles) continue;
      expect(service.healthcheck?.test, name).toBeDefined();
    }
  });

  it('serves the dashboard with basic auth, published on loopback only', () => {
    const dashboard = COMPOSE.services['dashboard']!;
    const argv = dashboard.command as string[];
    expect(argv[0]).toBe('dashboard');
    expect(flagValue(argv, '--host')).toBe('0.0.0.0');
    expect(Object.keys(dashboard.environment ?? {})).toEqual(expect.arrayContaining(['SIGLIP_BATCH_DASHBOARD_USER', 'SIGLIP_BATCH_DASHBOARD_PASSWORD']));
    for (const service of Object.values(COMPOSE.services)) for (const port of service.ports ?? []) expect(port).toMatch(/^127\.0\.0\.1:/);
  });

  it('defines in .env.example every variable the file requires', () => {
    const required = new Set([...read('infra', 'compose', 'compose.yaml').matchAll(/\$\{(\w+):\?/g)].map((m) => m[1]!));
    const example = new Set([...read('infra', 'compose', '.env.example').matchAll(/^(\w+)=/gm)].map((m) => m[1]!));
    for (const name of required) expect(example, name).toContain(name);
  });
});
