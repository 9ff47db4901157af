/**
 * What test/infra-*.test.ts compare infra/ with: the files of infra/ parsed, and what the code
 * derives and reads (bundles, environment variables, commands and flags). See test/infra-images.test.ts
 * for what the suite checks.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';


export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const at = (...parts: string[]) => join(ROOT, ...parts);
export const read = (...parts: string[]) => readFileSync(at(...parts), 'utf8');
export const CLI = at('node_modules/.bin/siglip-batch');

/** The worker's metrics server (issue 8): Prometheus `/metrics` and `/healthz` on this port. */
export const METRICS_PORT = 9464;
export const HEALTH_PATH = '/healthz';

// ---------------------------------------------------------------------------------------------
// What the code says
// ---------------------------------------------------------------------------------------------

export interface PackageJson {
  version?: string;
  workspaces?: string[];
  bin?: Record<string, string>;
}
export const readJson = <T>(...parts: string[]) => JSON.parse(read(...parts)) as T;

/** Apps that tools/build.mjs bundles: those with src/main.ts, written to dist/apps/<app>/main.mjs. */
export const APPS = readdirSync(at('apps')).filter((app) => existsSync(at('apps', app, 'src', 'main.ts')));
export const bundleOf = (app: string) => `dist/apps/${app}/main.mjs`;
/** The app whose package.json declares the bin `name` (siglip-batch, siglip-batch-worker). */
export function appWithBin(name: string): string {
  const app = APPS.find((candidate) => readJson<PackageJson>('apps', candidate, 'package.json').bin?.[name]);
  if (!app) throw new Error(`no app declares the bin ${name}`);
  return app;
}
export const CLI_APP = appWithBin('siglip-batch');
export const WORKER_APP = appWithBin('siglip-batch-worker');

/** Workspace package folders (package.json `workspaces`, one level of `*`). */
export function workspaces(): string[] {
  return (readJson<PackageJson>('package.json').workspaces ?? []).flatMap((pattern) => {
    if (!pattern.endsWith('/*')) return [pattern];
    const parent = pattern.slice(0, -2);
    return readdirSync(at(parent))
      .map((name) => `${parent}/${name}`)
      .filter((dir) => existsSync(at(dir, 'package.json')));
  });
}

export function filesUnder(dir: string, keep: (path: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : filesUnder(path, keep);
    return keep(path) ? [path] : [];
  });
}

/** Environment variables our sources read: `env['X']`, `env.X`, commander's `.env('X')`. */
export function envReadByOurCode(): Set<string> {
  const patterns = [/\benv\[['"]([A-Z][A-Z0-9_]*)['"]\]/g, /\benv\.([A-Z][A-Z0-9_]*)\b/g, /\.env\(['"]([A-Z][A-Z0-9_]*)['"]\)/g];
  const files = ['apps', 'libs'].flatMap((top) =>
    filesUnder(at(top), (path) => path.endsWith('.ts') && !path.endsWith('.spec.ts') && !path.includes('/testing/')),
  );
  const names = new Set<string>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const pattern of patterns) for (const match of text.matchAll(pattern)) names.add(match[1]!);
  }
  return names;
}

/** AWS_* variables the AWS SDK reads (credential chain, region, IRSA …): its string literals. */
export function envReadByAwsSdk(): Set<string> {
  const names = new Set<string>();
  for (const scope of ['@aws-sdk', '@smithy']) {
    for (const pkg of readdirSync(at('node_modules', scope))) {
      for (const file of filesUnder(at('node_modules', scope, pkg, 'dist-cjs'), (path) => path.endsWith('.js'))) {
        for (const match of readFileSync(file, 'utf8').matchAll(/"(AWS_[A-Z0-9_]+)"/g)) names.add(match[1]!);
      }
    }
  }
  return names;
}

export const OUR_ENV = envReadByOurCode();
export const KNOWN_ENV = new Set([...OUR_ENV, ...envReadByAwsSdk()]);

// ---------------------------------------------------------------------------------------------
// Reading the files
// ---------------------------------------------------------------------------------------------

export interface DockerInstruction {
  keyword: string;
  args: string;
}
export interface DockerStage {
  from: string;
  name?: string;
  instructions: DockerInstruction[];
}

/** Stages of a Dockerfile: continuation lines joined, comments dropped, ARG defaults applied to FROM. */
export function parseDockerfile(text: string): { globalArgs: Map<string, string>; stages: DockerStage[] } {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw)) continue;
    const line = raw.replace(/\s+$/, '');
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (full) logical.push(full);
  }
  const globalArgs = new Map<string, string>();
  const stages: DockerStage[] = [];
  for (const line of logical) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = keyword.toUpperCase();
    if (upper === 'FROM') {
      const words = args.split(/\s+/).filter((word) => !word.startsWith('--'));
      const image = words[0]!.replace(/\$\{(\w+)\}/g, (_, name: string) => globalArgs.get(name) ?? '');
      stages.push({ from: image, ...(words[2] ? { name: words[2] } : {}), instructions: [] });
    } else if (stages.length === 0 && upper === 'ARG') {
      const [name, value = ''] = args.split('=');
      globalArgs.set(name!, value);
    } else {
      stages.at(-1)?.instructions.push({ keyword: upper, args });
    }
  }
  return { globalArgs, stages };
}

export const envPairs = (args: string) => [...args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)].map((m) => [m[1]!, m[2]!.replace(/^"|"$/g, '')] as const);
export const workdirOf = (stage: DockerStage) => stage.instructions.filter((i) => i.keyword === 'WORKDIR').at(-1)?.args ?? '/';
export function copyOf(instruction: DockerInstruction): { from?: string; sources: string[]; dest: string } {
  const words = instruction.args.split(/\s+/);
  const from = words.find((word) => word.startsWith('--from='))?.slice('--from='.length);
  const paths = words.filter((word) => !word.startsWith('--'));
  return { ...(from ? { from } : {}), sources: paths.slice(0, -1), dest: paths.at(-1)! };
}

/** Words of a shell command line, quotes removed (`$(…)` inside quotes stays one word). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: string | undefined;
  for (const char of line) {
    if (quote) {
      if (char === quote) quote = undefined;
      else word += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += char;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** Arguments after the `siglip-batch` program in a command line (the image, the bin or compose's producer). */
export function siglipArgv(words: string[]): string[] | undefined {
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    const previous = words[i - 1] ?? '';
    if (/^(.*\/)?siglip-batch(:[\w.-]+)?$/.test(word) && !['-t', '--tag', '-f', '--file', '-n', '--namespace'].includes(previous)) return words.slice(i + 1);
    if (word.endsWith(`/${bundleOf(CLI_APP).split('/').slice(-3).join('/')}`)) return words.slice(i + 1);
    if (word === 'producer' && words.slice(0, i).includes('compose') && words.slice(0, i).includes('run')) return words.slice(i + 1);
  }
  return undefined;
}

// Kubernetes objects, as far as this test reads them.
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean }; configMapKeyRef?: { name: string; key: string } };
}
export interface Probe {
  httpGet?: { path: string; port: number | string };
}
export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  resources?: { limits?: Record<string, string | number> };
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
export interface PodSpec {
  containers: Container[];
  terminationGracePeriodSeconds?: number;
  volumes?: { name: string; configMap?: { name: string }; persistentVolumeClaim?: { claimName: string; readOnly?: boolean } }[];
}
export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  // Fields differ by kind; read through the helpers below.
  spec?: Record<string, unknown>;
}
export interface Trigger {
  type: string;
  name?: string;
  metadata: Record<string, string>;
  authenticationRef?: { name: string };
}

export const K8S_DIR = at('infra', 'k8s');
export const kustomization = parseAllDocuments(read('infra', 'k8s', 'kustomization.yaml'))[0]!.toJS() as {
  resources: string[];
  configMapGenerator?: { name: string; files: string[] }[];
};
export const yamlObjects = (file: string) =>
  parseAllDocuments(readFileSync(file, 'utf8'))
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((doc): doc is K8sObject => doc !== null);
export const K8S = kustomization.resources.flatMap((file) => yamlObjects(join(K8S_DIR, file)));
export const SECRET_TEMPLATE = yamlObjects(join(K8S_DIR, 'secret.example.yaml'))[0]!;
export const named = (kind: string, name: string) => {
  const found = K8S.find((object) => object.kind === kind && object.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in infra/k8s`);
  return found;
};
export function podTemplateOf(object: K8sObject): PodTemplate | undefined {
  const spec = object.spec as { template?: PodTemplate; jobTemplate?: { spec: { template: PodTemplate } } } | undefined;
  return spec?.template ?? spec?.jobTemplate?.spec.template;
}
export const isOurImage = (image: string) => /^([\w.-]+\/)*siglip-batch(:[\w.-]+)?$/.test(image);
export const K8S_CONTAINERS = K8S.flatMap((object) =>
  (podTemplateOf(object)?.spec.containers ?? []).map((container) => ({ object, container })),
);
export const OUR_K8S_CONTAINERS = K8S_CONTAINERS.filter(({ container }) => isOurImage(container.image));

/** Arguments of `siglip-batch` in a container: its args, or the command line a shell runs. */
export function containerArgv(container: Container): string[] {
  const command = container.command ?? [];
  if (command.some((word) => /(^|\/)(ba)?sh$/.test(word))) {
    const script = [...command, ...(container.args ?? [])].at(-1)!;
    return siglipArgv(shellWords(script)) ?? [];
  }
  return container.args ?? [];
}

export const WORKER = named('Deployment', 'siglip-batch-worker');
export const WORKER_POD = podTemplateOf(WORKER)!;
export const WORKER_CONTAINER = WORKER_POD.spec.containers[0]!;
export const SCALED = named('ScaledObject', 'siglip-batch-worker');
export const CONFIG = named('ConfigMap', 'siglip-batch-config');

// Compose
export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[] | string;
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
  volumes?: (string | { type: string; source: string; target: string; read_only?: boolean })[];
  ports?: string[];
  profiles?: string[];
  restart?: string;
}
export const COMPOSE_DIR = at('infra', 'compose');
export const COMPOSE = parseAllDocuments(read('infra', 'compose', 'compose.yaml'), { merge: true })[0]!.toJS() as {
  services: Record<string, ComposeService>;
};
export const OUR_SERVICES = Object.entries(COMPOSE.services).filter(([, service]) => service.image !== undefined && isOurImage(service.image));

/** Flag values in an argv (`--name=value` or `--name value`). */
export function flagValue(argv: string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === name) return argv[i + 1];
    if (argv[i]!.startsWith(`${name}=`)) return argv[i]!.slice(name.length + 1);
  }
  return undefined;
}
export const flagsOf = (argv: string[]) => argv.filter((word) => word.startsWith('--')).map((word) => word.split('=')[0]!);

/** Compose durations (`90s`, `1m30s`) in seconds. */
export function composeSeconds(duration: string): number {
  let seconds = 0;
  for (const [, value, unit] of duration.matchAll(/(\d+(?:\.\d+)?)(h|m|s|ms)/g)) {
    seconds += Number(value) * { h: 3600, m: 60, s: 1, ms: 0.001 }[unit as 'h' | 'm' | 's' | 'ms'];
  }
  return seconds;
}

/** Directives of a redis.conf (the last one wins, as in Redis). */
export function redisDirectives(text: string): Map<string, string> {
  const directives = new Map<string, string>();
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const [key, ...rest] = trimmed.split(/\s+/);
    directives.set(key!.toLowerCase(), rest.join(' '));
  }
  return directives;
}

/** KEDA's formula language (expr) shares JavaScript's syntax for what the manifest uses. */
export function evaluateFormula(formula: string, values: Record<string, number>): number {
  if (!/^[\w\s+\-*/().?:<>=]+$/.test(formula)) throw new Error(`formula uses more than arithmetic: ${formula}`);
  const names = Object.keys(values);
  const evaluate = new Function(...names, `"use strict"; return (${formula});`) as (...args: number[]) => unknown;
  const result = evaluate(...names.map((name) => values[name]!));
  if (typeof result !== 'number') throw new Error(`formula ${formula} gave ${String(result)}`);
  return result;
}
export const identifiers = (formula: string) => new Set(formula.match(/[A-Za-z_]\w*/g) ?? []);

// ---------------------------------------------------------------------------------------------
// Every `siglip-batch` command line of the stack and of the operations guide
// ---------------------------------------------------------------------------------------------

export interface Invocation {
  where: string;
  argv: string[];
}

export function readmeInvocations(): Invocation[] {
  const invocations: Invocation[] = [];
  for (const block of read('infra', 'README.md').matchAll(/```(?:sh|bash|shell|console)\n([\s\S]*?)```/g)) {
    const lines = block[1]!.replace(/\\\n/g, ' ').split('\n');
    for (const line of lines) {
      if (/^\s*#/.test(line)) continue;
      for (const part of line.replace(/^\s*\$\s+/, '').split(/\s(?:&&|\|\||\||;)\s/)) {
        const argv = siglipArgv(shellWords(part));
        if (argv && argv.length > 0 && /^[a-z][a-z-]*$/.test(argv[0]!)) invocations.push({ where: 'infra/README.md', argv });
      }
    }
  }
  return invocations;
}

export const INVOCATIONS: Invocation[] = [
  ...OUR_SERVICES.map(([name, service]) => ({
    where: `compose service ${name}`,
    argv: Array.isArray(service.command) ? service.command : shellWords(service.command ?? ''),
  })),
  ...OUR_K8S_CONTAINERS.map(({ object, container }) => ({ where: `k8s ${object.kind} ${object.metadata.name}`, argv: containerArgv(container) })),
  ...readmeInvocations(),
].filter((invocation) => invocation.argv.length > 0);

export const helpCache = new Map<string, string>();
/** `siglip-batch <path> --help`, as a user runs it (the workspace bin). */
export function helpOf(path: string[]): string {
  const key = path.join(' ');
  if (!helpCache.has(key)) {
    const result = spawnSync(CLI, [...path, '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    helpCache.set(key, `${result.stdout}${result.stderr}`);
  }
  return helpCache.get(key)!;
}
/** The command an argv names: one word, or two when the first has that subcommand (`model inspect`). */
export function commandPath(argv: string[]): string[] {
  const [first, second] = argv;
  if (second && /^[a-z][a-z-]*$/.test(second) && new RegExp(`^ {2}${second}\\b`, 'm').test(helpOf([first!]).split(/^Commands:$/m)[1] ?? '')) {
    return [first!, second];
  }
  return [first!];
}

export const COMMANDS = new Map<string, { flags: Set<string>; where: Set<string> }>();
for (const { where, argv } of INVOCATIONS) {
  const key = commandPath(argv).join(' ');
  const entry = COMMANDS.get(key) ?? { flags: new Set<string>(), where: new Set<string>() };
  for (const flag of flagsOf(argv)) entry.flags.add(flag);
  entry.where.add(where);
  COMMANDS.set(key, entry);
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/** Names (`<name>.thread`) of the worker-thread entries in libs/ and an app's sources. */
export function threadSources(app: string): string[] {
  const names: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (entry.name.endsWith('.thread.ts')) names.push(entry.name.slice(0, -'.ts'.length));
    }
  };
  walk(at('libs'));
  walk(at(join('apps', app, 'src')));
  return names;
}
