/** infra/ checked against the code, part commands: see test/infra-images.test.ts for the whole suite's approach. */
import { describe, expect, it } from 'vitest';
import { read, KNOWN_ENV, SECRET_TEMPLATE, named, K8S_CONTAINERS, OUR_K8S_CONTAINERS, OUR_SERVICES, helpOf, OUR_ENV, COMMANDS } from './support/infra-files';

describe('environment: only variables the code reads', () => {
  it('finds the variables in the sources (guards the scan itself)', () => {
    expect([...OUR_ENV]).toEqual(expect.arrayContaining(['REDIS_URL', 'AWS_ENDPOINT_URL_S3', 'SIGLIP_BATCH_PREFIX', 'SIGLIP_BATCH_WORKER_ENTRY']));
    expect([...KNOWN_ENV]).toEqual(expect.arrayContaining(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_ROLE_ARN']));
  });

  const composeEnv = OUR_SERVICES.flatMap(([name, service]) => Object.keys(service.environment ?? {}).map((variable) => [`compose ${name}`, variable] as const));
  const configMapNames = (name: string) => Object.keys(named('ConfigMap', name).data ?? {});
  const k8sEnv = OUR_K8S_CONTAINERS.flatMap(({ object, container }) => [
    ...(container.env ?? []).map((variable) => [`k8s ${object.kind} ${object.metadata.name}`, variable.name] as const),
    ...(container.envFrom ?? []).flatMap((source) =>
      source.configMapRef ? configMapNames(source.configMapRef.name).map((variable) => [`k8s ConfigMap ${source.configMapRef!.name}`, variable] as const) : [],
    ),
  ]);
  const secretEnv = Object.keys(SECRET_TEMPLATE.stringData ?? {})
    .filter((key) => /^[A-Z][A-Z0-9_]*$/.test(key))
    .map((key) => ['k8s secret.example.yaml', key] as const);
  const all = [...new Map([...composeEnv, ...k8sEnv, ...secretEnv].map(([where, name]) => [`${where}: ${name}`, name])).entries()];

  it.each(all)('%s', (_, name) => {
    expect(KNOWN_ENV.has(name), `${name} is read by neither apps/, libs/ nor the AWS SDK`).toBe(true);
  });

  it('takes every secret a container reads from the Secret template, and KEDA’s too', () => {
    const keys = Object.keys(SECRET_TEMPLATE.stringData ?? {});
    const commented = [...read('infra', 'k8s', 'secret.example.yaml').matchAll(/^\s*#\s*([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]!);
    for (const { container } of K8S_CONTAINERS) {
      for (const variable of container.env ?? []) {
        const ref = variable.valueFrom?.secretKeyRef;
        if (!ref) continue;
        expect(ref.name).toBe(SECRET_TEMPLATE.metadata.name);
        expect(ref.optional ? [...keys, ...commented] : keys, `${container.name}: ${ref.key}`).toContain(ref.key);
      }
    }
    const auth = named('TriggerAuthentication', 'siglip-batch-redis').spec as { secretTargetRef: { name: string; key: string }[] };
    for (const ref of auth.secretTargetRef) expect(keys).toContain(ref.key);
  });
});

describe('siglip-batch commands and flags used by infra/ exist', () => {
  it('found the command lines (guards the collection itself)', () => {
    expect([...COMMANDS.keys()]).toEqual(expect.arrayContaining(['worker', 'enqueue', 'dashboard']));
  });

  describe.each([...COMMANDS.entries()].map(([command, { flags, where }]) => ({ command, flags: [...flags], where: [...where] })))(
    'siglip-batch $command',
    ({ command, flags, where }) => {
      it(`exists (used by ${where.join('; ')})`, () => {
        expect(helpOf(command.split(' '))).toMatch(new RegExp(`^Usage: siglip-batch ${command}\\b`, 'm'));
      });
      it.each(flags)('has %s', (flag) => {
        const help = helpOf(command.split(' '));
        expect(new RegExp(`(^|[\\s,])${flag}([\\s=,]|$)`, 'm').test(help), `\`siglip-batch ${command} --help\` lists no ${flag}:\n${help}`).toBe(true);
      });
    },
  );
});
