/** infra/ checked against the code, part k8s: see test/infra-images.test.ts for the whole suite's approach. */
import { readdirSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { Queue, QueueKeys, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { MODEL_VARIANTS, queueNameForModel, type ModelVariant } from '@siglip-batch/jobs';
import { parseLabelFile } from '@siglip-batch/pipeline';
import { test } from './support/harness';
import { METRICS_PORT, HEALTH_PATH, Trigger, K8S_DIR, kustomization, K8S, named, podTemplateOf, containerArgv, WORKER, WORKER_POD, WORKER_CONTAINER, SCALED, CONFIG, flagValue, evaluateFormula, identifiers } from './support/infra-files';

describe('Kubernetes', () => {
  it('lists every manifest in kustomization.yaml, except the Secret template', () => {
    const files = readdirSync(K8S_DIR).filter((file) => file.endsWith('.yaml') && file !== 'kustomization.yaml');
    // secret.example.yaml is the template; secret.yaml a local filled-in copy (git-ignored).
    expect([...kustomization.resources].sort()).toEqual(files.filter((file) => !file.startsWith('secret.')).sort());
    for (const file of kustomization.resources) expect(statSync(join(K8S_DIR, file)).isFile()).toBe(true);
  });

  it('gives each worker pod one GPU as cuda:0, a read-only model volume and no fixed replica count', () => {
    expect(WORKER_CONTAINER.resources?.limits?.['nvidia.com/gpu']).toBe(1);
    const argv = containerArgv(WORKER_CONTAINER);
    expect(argv[0]).toBe('worker');
    expect(flagValue(argv, '--device')).toBe('cuda:0');
    expect(flagValue(argv, '--gpus')).toBeUndefined();
    const models = WORKER_CONTAINER.volumeMounts!.find((mount) => flagValue(argv, '--model')!.startsWith(`${mount.mountPath}/`));
    expect(models?.readOnly).toBe(true);
    expect((WORKER.spec as { replicas?: number }).replicas, 'KEDA owns the replica count').toBeUndefined();
  });

  it('lets a worker finish its shards: terminationGracePeriodSeconds exceeds --shutdown-timeout', () => {
    const shutdownMs = Number(flagValue(containerArgv(WORKER_CONTAINER), '--shutdown-timeout'));
    expect(shutdownMs).toBeGreaterThan(0);
    // Margin for handing shards back and closing Redis and the model after the deadline.
    expect(WORKER_POD.spec.terminationGracePeriodSeconds! * 1000).toBeGreaterThanOrEqual(shutdownMs + 15_000);
  });

  it(`probes /healthz and scrapes /metrics on the metrics port ${METRICS_PORT}`, () => {
    const argv = containerArgv(WORKER_CONTAINER);
    expect(flagValue(argv, '--metrics-port')).toBe(String(METRICS_PORT));
    const portOf = (port: number | string) => (typeof port === 'number' ? port : WORKER_CONTAINER.ports?.find((p) => p.name === port)?.containerPort);
    for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe'] as const) {
      const httpGet = WORKER_CONTAINER[probe]?.httpGet;
      expect(httpGet?.path, probe).toBe(HEALTH_PATH);
      expect(portOf(httpGet!.port), probe).toBe(METRICS_PORT);
    }
    expect(WORKER_POD.metadata?.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(METRICS_PORT),
      'prometheus.io/path': '/metrics',
    });
  });

  it('keeps at most a quarter of the workers disrupted, selecting the worker pods', () => {
    const pdb = K8S.find((object) => object.kind === 'PodDisruptionBudget')!;
    const spec = pdb.spec as { maxUnavailable?: string; selector: { matchLabels: Record<string, string> } };
    expect(spec.maxUnavailable).toBeDefined();
    expect(WORKER_POD.metadata?.labels).toMatchObject(spec.selector.matchLabels);
  });

  it('runs the nightly producers as planners sharing the run’s planning units, ended before the next firing', () => {
    const cron = named('CronJob', 'siglip-batch-nightly');
    const job = (cron.spec as { jobTemplate: { spec: { parallelism?: number; completions?: number; activeDeadlineSeconds: number } }; concurrencyPolicy: string }).jobTemplate.spec;
    const argv = containerArgv(podTemplateOf(cron)!.spec.containers[0]!);
    expect(Number(flagValue(argv, '--planning-units'))).toBeGreaterThan(1);
    expect(Number(flagValue(argv, '--planners'))).toBeGreaterThan(1);
    // Several pods of the same command share the units; the Job succeeds when they all exit 0.
    expect(job.parallelism).toBeGreaterThan(1);
    expect(job.completions).toBeUndefined();
    // A daily schedule with Forbid: a Job still running at the next firing would skip that night.
    expect((cron.spec as { schedule: string }).schedule.split(' ').slice(2)).toEqual(['*', '*', '*']);
    expect(job.activeDeadlineSeconds).toBeLessThan(24 * 3600);
  });

  it('parses the nightly run’s labels with the code’s own labels-file parser', () => {
    const labels = named('ConfigMap', 'siglip-batch-labels').data!;
    const cron = named('CronJob', 'siglip-batch-nightly');
    const container = podTemplateOf(cron)!.spec.containers[0]!;
    const file = flagValue(containerArgv(container), '--labels-file')!;
    expect(Object.keys(labels)).toContain(posix.basename(file));
    expect(parseLabelFile(labels[posix.basename(file)]!, file).labels.length).toBeGreaterThan(0);
  });
});

describe('KEDA scales the workers on waiting + active jobs of their model’s queue', () => {
  const annotations = SCALED.metadata.annotations ?? {};
  const hash = annotations['siglip-batch.dev/model-content-hash'] ?? '';
  const variant = annotations['siglip-batch.dev/model-variant'] as ModelVariant;
  const spec = SCALED.spec as {
    scaleTargetRef: { name: string };
    minReplicaCount?: number;
    advanced: { scalingModifiers: { formula: string; target: string; activationTarget?: string; metricType?: string } };
    triggers: Trigger[];
  };
  const prefix = CONFIG.data?.['SIGLIP_BATCH_PREFIX'] ?? 'bull';
  const modifiers = spec.advanced.scalingModifiers;
  // BullMQ's name for each trigger's key: bull:<queue>:<what>.
  const keyOf = (trigger: Trigger) => trigger.metadata['listName']!.split(':').at(-1)!;

  it('scales the worker Deployment', () => {
    expect(spec.scaleTargetRef.name).toBe(WORKER.metadata.name);
  });

  it('names the queue the code derives from the annotated model hash and the worker’s variant', () => {
    expect(MODEL_VARIANTS).toContain(variant);
    const queue = queueNameForModel(hash, variant);
    expect(annotations['siglip-batch.dev/queue']).toBe(queue);
    expect(flagValue(containerArgv(WORKER_CONTAINER), '--variant') ?? 'fp32').toBe(variant);
  });

  it('reads BullMQ’s own keys of that queue under SIGLIP_BATCH_PREFIX', () => {
    const keys = new QueueKeys(prefix).getKeys(queueNameForModel(hash, variant));
    expect(spec.triggers.map((trigger) => trigger.type)).toEqual(spec.triggers.map(() => 'redis'));
    for (const trigger of spec.triggers) expect(trigger.metadata['listName']).toBe(keys[keyOf(trigger)]);
    expect(spec.triggers.map(keyOf).sort()).toEqual(['active', 'delayed', 'prioritized', 'wait']);
  });

  it('composes the triggers with a formula over all of them, per pod = the worker’s --concurrency', () => {
    expect([...identifiers(modifiers.formula)].sort()).toEqual(spec.triggers.map((trigger) => trigger.name!).sort());
    expect(modifiers.metricType ?? 'AverageValue').toBe('AverageValue');
    expect(modifiers.target).toBe(flagValue(containerArgv(WORKER_CONTAINER), '--concurrency'));
  });

  it('never scales on waiting alone: a busy fleet with nothing waiting keeps a pod per target active shards', () => {
    const metric = (counts: Partial<Record<'wait' | 'prioritized' | 'active' | 'delayed', number>>) =>
      evaluateFormula(modifiers.formula, Object.fromEntries(spec.triggers.map((trigger) => [trigger.name!, counts[keyOf(trigger) as 'wait'] ?? 0])));
    const target = Number(modifiers.target);
    // Ten pods busy with two shards each, nothing left waiting: keep all ten.
    expect(Math.ceil(metric({ active: 20 }) / target)).toBe(10);
    expect(metric({ wait: 6, prioritized: 4 })).toBe(10);
    expect(metric({ wait: 6, active: 4 })).toBe(10);
    // Only retries waiting out their backoff: one worker, which is what moves them back to `wait`.
    expect(metric({ delayed: 5 })).toBeGreaterThan(Number(modifiers.activationTarget ?? 0));
    expect(Math.ceil(metric({ delayed: 5 }) / target)).toBe(1);
    expect(metric({})).toBe(0);
  });

  test('counts a real BullMQ queue as KEDA’s redis scaler does (LLEN for lists, ZCARD for sorted sets)', async ({ redisUrl, redis, queuePrefix }) => {
    const queueName = queueNameForModel(hash, variant);
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue(queueName, { connection, prefix: queuePrefix });
    const worker = new Worker(queueName, null, { connection: connection.duplicate(), prefix: queuePrefix, autorun: false });
    try {
      await queue.addBulk([1, 2, 3].map((n) => ({ name: 'shard', data: { n } })));
      await queue.add('shard', { n: 4 }, { priority: 1 });
      await queue.add('shard', { n: 5 }, { priority: 2 });
      await queue.add('shard', { n: 6 }, { delay: 3_600_000 });
      expect(await worker.getNextJob('infra-test')).toBeDefined();

      // KEDA's redis scaler: the key's TYPE decides between LLEN, ZCARD, SCARD and HLEN.
      const count = (key: string) =>
        redis.eval(
          "local t = redis.call('TYPE', KEYS[1])['ok'] if t == 'zset' then return redis.call('ZCARD', KEYS[1]) elseif t == 'set' then return redis.call('SCARD', KEYS[1]) elseif t == 'hash' then return redis.call('HLEN', KEYS[1]) end return redis.call('LLEN', KEYS[1])",
          1,
          key,
        ) as Promise<number>;
      const measured: Record<string, number> = {};
      for (const trigger of spec.triggers) {
        measured[trigger.name!] = await count(trigger.metadata['listName']!.replace(new RegExp(`^${prefix}:`), `${queuePrefix}:`));
      }
      const counts = await queue.getJobCounts('wait', 'prioritized', 'active', 'delayed');
      expect(Object.fromEntries(spec.triggers.map((trigger) => [keyOf(trigger), measured[trigger.name!]]))).toEqual(counts);
      expect(counts['active']).toBe(1);
      expect(counts['wait']! + counts['prioritized']!).toBe(4);
      expect(counts['delayed']).toBe(1);
      // Four waiting, one running, one retry pending: 4 + 1 + 1.
      expect(evaluateFormula(modifiers.formula, measured)).toBe(6);
    } finally {
      await worker.close(true);
      await queue.close();
      connection.disconnect();
    }
  });

  it('authenticates to Redis with the Secret and targets the Redis service', () => {
    for (const trigger of spec.triggers) {
      expect(trigger.authenticationRef?.name).toBe('siglip-batch-redis');
      expect(trigger.metadata['address']).toMatch(/^redis\.siglip-batch\.svc\.cluster\.local:6379$/);
    }
    expect(spec.minReplicaCount).toBe(0);
  });
});
