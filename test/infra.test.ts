/**
 * infra/ checked against the code. No container engine or cluster runs here, so the images, the
 * compose file and the Kubernetes manifests are read as files and compared with what the code
 * derives and reads — never with lists restated in this test:
 * - entrypoints: where tools/build.mjs writes each app (apps/<app>/src/main.ts →
 *   dist/apps/<app>/main.mjs), and the bundles run the way the images run them;
 * - environment: every variable the stack gives a siglip-batch container is one that our
 *   sources or the AWS SDK's credential chain read (found by scanning them);
 * - commands: every `siglip-batch` subcommand and flag used by compose, Kubernetes and the
 *   operations guide appears in that command's `--help`;
 * - KEDA: the trigger keys are BullMQ's keys of the queue that `queueNameForModel` derives from
 *   the manifest's model hash, and on a real queue they count what KEDA's redis scaler counts;
 * - Redis: noeviction and append-only, in a real redis-server started with the file;
 * - shutdown and probes: grace period longer than --shutdown-timeout, /healthz on the
 *   worker's metrics port.
 *
 * Every command, flag and environment variable the files use is checked against the code, so
 * a deployment file that names something the code does not have fails here.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, QueueKeys, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { MODEL_VARIANTS, queueNameForModel, redisOptions, type ModelVariant } from '@siglip-batch/jobs';
import { connectCheckedRedis, parseLabelFile } from '@siglip-batch/pipeline';
import { freePort } from './support/free-port';
import { test } from './support/harness';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const at = (...parts: string[]) => join(ROOT, ...parts);
const read = (...parts: string[]) => readFileSync(at(...parts), 'utf8');
const CLI = at('node_modules/.bin/siglip-batch');

/** The worker's metrics server (issue 8): Prometheus `/metrics` and `/healthz` on this port. */
const METRICS_PORT = 9464;
const HEALTH_PATH = '/healthz';

// ---------------------------------------------------------------------------------------------
// What the code says
// ---------------------------------------------------------------------------------------------

interface PackageJson {
  version?: string;
  workspaces?: string[];
  bin?: Record<string, string>;
}
const readJson = <T>(...parts: string[]) => JSON.parse(read(...parts)) as T;

/** Apps that tools/build.mjs bundles: those with src/main.ts, written to dist/apps/<app>/main.mjs. */
const APPS = readdirSync(at('apps')).filter((app) => existsSync(at('apps', app, 'src', 'main.ts')));
const bundleOf = (app: string) => `dist/apps/${app}/main.mjs`;
/** The app whose package.json declares the bin `name` (siglip-batch, siglip-batch-worker). */
function appWithBin(name: string): string {
  const app = APPS.find((candidate) => readJson<PackageJson>('apps', candidate, 'package.json').bin?.[name]);
  if (!app) throw new Error(`no app declares the bin ${name}`);
  return app;
}
const CLI_APP = appWithBin('siglip-batch');
const WORKER_APP = appWithBin('siglip-batch-worker');

/** Workspace package folders (package.json `workspaces`, one level of `*`). */
function workspaces(): string[] {
  return (readJson<PackageJson>('package.json').workspaces ?? []).flatMap((pattern) => {
    if (!pattern.endsWith('/*')) return [pattern];
    const parent = pattern.slice(0, -2);
    return readdirSync(at(parent))
      .map((name) => `${parent}/${name}`)
      .filter((dir) => existsSync(at(dir, 'package.json')));
  });
}

function filesUnder(dir: string, keep: (path: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : filesUnder(path, keep);
    return keep(path) ? [path] : [];
  });
}

/** Environment variables our sources read: `env['X']`, `env.X`, commander's `.env('X')`. */
function envReadByOurCode(): Set<string> {
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
function envReadByAwsSdk(): Set<string> {
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

const OUR_ENV = envReadByOurCode();
const KNOWN_ENV = new Set([...OUR_ENV, ...envReadByAwsSdk()]);

// ---------------------------------------------------------------------------------------------
// Reading the files
// ---------------------------------------------------------------------------------------------

interface DockerInstruction {
  keyword: string;
  args: string;
}
interface DockerStage {
  from: string;
  name?: string;
  instructions: DockerInstruction[];
}

/** Stages of a Dockerfile: continuation lines joined, comments dropped, ARG defaults applied to FROM. */
function parseDockerfile(text: string): { globalArgs: Map<string, string>; stages: DockerStage[] } {
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

const envPairs = (args: string) => [...args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)].map((m) => [m[1]!, m[2]!.replace(/^"|"$/g, '')] as const);
const workdirOf = (stage: DockerStage) => stage.instructions.filter((i) => i.keyword === 'WORKDIR').at(-1)?.args ?? '/';
function copyOf(instruction: DockerInstruction): { from?: string; sources: string[]; dest: string } {
  const words = instruction.args.split(/\s+/);
  const from = words.find((word) => word.startsWith('--from='))?.slice('--from='.length);
  const paths = words.filter((word) => !word.startsWith('--'));
  return { ...(from ? { from } : {}), sources: paths.slice(0, -1), dest: paths.at(-1)! };
}

/** Words of a shell command line, quotes removed (`$(…)` inside quotes stays one word). */
function shellWords(line: string): string[] {
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
function siglipArgv(words: string[]): string[] | undefined {
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
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean }; configMapKeyRef?: { name: string; key: string } };
}
interface Probe {
  httpGet?: { path: string; port: number | string };
}
interface Container {
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
interface PodSpec {
  containers: Container[];
  terminationGracePeriodSeconds?: number;
  volumes?: { name: string; configMap?: { name: string }; persistentVolumeClaim?: { claimName: string; readOnly?: boolean } }[];
}
interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  // Fields differ by kind; read through the helpers below.
  spec?: Record<string, unknown>;
}
interface Trigger {
  type: string;
  name?: string;
  metadata: Record<string, string>;
  authenticationRef?: { name: string };
}

const K8S_DIR = at('infra', 'k8s');
const kustomization = parseAllDocuments(read('infra', 'k8s', 'kustomization.yaml'))[0]!.toJS() as {
  resources: string[];
  configMapGenerator?: { name: string; files: string[] }[];
};
const yamlObjects = (file: string) =>
  parseAllDocuments(readFileSync(file, 'utf8'))
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((doc): doc is K8sObject => doc !== null);
const K8S = kustomization.resources.flatMap((file) => yamlObjects(join(K8S_DIR, file)));
const SECRET_TEMPLATE = yamlObjects(join(K8S_DIR, 'secret.example.yaml'))[0]!;
const named = (kind: string, name: string) => {
  const found = K8S.find((object) => object.kind === kind && object.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in infra/k8s`);
  return found;
};
function podTemplateOf(object: K8sObject): PodTemplate | undefined {
  const spec = object.spec as { template?: PodTemplate; jobTemplate?: { spec: { template: PodTemplate } } } | undefined;
  return spec?.template ?? spec?.jobTemplate?.spec.template;
}
const isOurImage = (image: string) => /^([\w.-]+\/)*siglip-batch(:[\w.-]+)?$/.test(image);
const K8S_CONTAINERS = K8S.flatMap((object) =>
  (podTemplateOf(object)?.spec.containers ?? []).map((container) => ({ object, container })),
);
const OUR_K8S_CONTAINERS = K8S_CONTAINERS.filter(({ container }) => isOurImage(container.image));

/** Arguments of `siglip-batch` in a container: its args, or the command line a shell runs. */
function containerArgv(container: Container): string[] {
  const command = container.command ?? [];
  if (command.some((word) => /(^|\/)(ba)?sh$/.test(word))) {
    const script = [...command, ...(container.args ?? [])].at(-1)!;
    return siglipArgv(shellWords(script)) ?? [];
  }
  return container.args ?? [];
}

const WORKER = named('Deployment', 'siglip-batch-worker');
const WORKER_POD = podTemplateOf(WORKER)!;
const WORKER_CONTAINER = WORKER_POD.spec.containers[0]!;
const SCALED = named('ScaledObject', 'siglip-batch-worker');
const CONFIG = named('ConfigMap', 'siglip-batch-config');

// Compose
interface ComposeService {
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
const COMPOSE_DIR = at('infra', 'compose');
const COMPOSE = parseAllDocuments(read('infra', 'compose', 'compose.yaml'), { merge: true })[0]!.toJS() as {
  services: Record<string, ComposeService>;
};
const OUR_SERVICES = Object.entries(COMPOSE.services).filter(([, service]) => service.image !== undefined && isOurImage(service.image));

/** Flag values in an argv (`--name=value` or `--name value`). */
function flagValue(argv: string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === name) return argv[i + 1];
    if (argv[i]!.startsWith(`${name}=`)) return argv[i]!.slice(name.length + 1);
  }
  return undefined;
}
const flagsOf = (argv: string[]) => argv.filter((word) => word.startsWith('--')).map((word) => word.split('=')[0]!);

/** Compose durations (`90s`, `1m30s`) in seconds. */
function composeSeconds(duration: string): number {
  let seconds = 0;
  for (const [, value, unit] of duration.matchAll(/(\d+(?:\.\d+)?)(h|m|s|ms)/g)) {
    seconds += Number(value) * { h: 3600, m: 60, s: 1, ms: 0.001 }[unit as 'h' | 'm' | 's' | 'ms'];
  }
  return seconds;
}

/** Directives of a redis.conf (the last one wins, as in Redis). */
function redisDirectives(text: string): Map<string, string> {
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
function evaluateFormula(formula: string, values: Record<string, number>): number {
  if (!/^[\w\s+\-*/().?:<>=]+$/.test(formula)) throw new Error(`formula uses more than arithmetic: ${formula}`);
  const names = Object.keys(values);
  const evaluate = new Function(...names, `"use strict"; return (${formula});`) as (...args: number[]) => unknown;
  const result = evaluate(...names.map((name) => values[name]!));
  if (typeof result !== 'number') throw new Error(`formula ${formula} gave ${String(result)}`);
  return result;
}
const identifiers = (formula: string) => new Set(formula.match(/[A-Za-z_]\w*/g) ?? []);

// ---------------------------------------------------------------------------------------------
// Every `siglip-batch` command line of the stack and of the operations guide
// ---------------------------------------------------------------------------------------------

interface Invocation {
  where: string;
  argv: string[];
}

function readmeInvocations(): Invocation[] {
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

const INVOCATIONS: Invocation[] = [
  ...OUR_SERVICES.map(([name, service]) => ({
    where: `compose service ${name}`,
    argv: Array.isArray(service.command) ? service.command : shellWords(service.command ?? ''),
  })),
  ...OUR_K8S_CONTAINERS.map(({ object, container }) => ({ where: `k8s ${object.kind} ${object.metadata.name}`, argv: containerArgv(container) })),
  ...readmeInvocations(),
].filter((invocation) => invocation.argv.length > 0);

const helpCache = new Map<string, string>();
/** `siglip-batch <path> --help`, as a user runs it (the workspace bin). */
function helpOf(path: string[]): string {
  const key = path.join(' ');
  if (!helpCache.has(key)) {
    const result = spawnSync(CLI, [...path, '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    helpCache.set(key, `${result.stdout}${result.stderr}`);
  }
  return helpCache.get(key)!;
}
/** The command an argv names: one word, or two when the first has that subcommand (`model inspect`). */
function commandPath(argv: string[]): string[] {
  const [first, second] = argv;
  if (second && /^[a-z][a-z-]*$/.test(second) && new RegExp(`^ {2}${second}\\b`, 'm').test(helpOf([first!]).split(/^Commands:$/m)[1] ?? '')) {
    return [first!, second];
  }
  return [first!];
}

const COMMANDS = new Map<string, { flags: Set<string>; where: Set<string> }>();
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

describe('container images (infra/docker)', () => {
  it('restates tools/build.mjs correctly: apps/<app>/src/main.ts → dist/apps/<app>/main.mjs', () => {
    const build = read('tools', 'build.mjs');
    expect(build).toContain("join(src, 'main.ts')");
    expect(build).toContain("const outdir = join(root, 'dist', projectRoot);");
    expect(build).toContain("outExtension: { '.js': '.mjs' }");
    expect(APPS).toEqual(expect.arrayContaining([CLI_APP, WORKER_APP]));
  });

  describe.each(['Dockerfile.cpu', 'Dockerfile.cuda'])('%s', (file) => {
    const { stages, globalArgs } = parseDockerfile(read('infra', 'docker', file));
    const runtime = stages.at(-1)!;
    const workdir = workdirOf(runtime);
    const runs = (stage: DockerStage) => stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    const buildStage = stages.find((stage) => runs(stage).some((run) => /\bnx run-many -t build\b/.test(run)));
    const depsStage = stages.find((stage) => runs(stage).some((run) => /\bnpm ci\b.*--omit=dev/.test(run)));
    const distCopy = runtime.instructions.filter((i) => i.keyword === 'COPY').map(copyOf).find((copy) => copy.sources.some((s) => s.endsWith('/dist')));
    const distInImage = distCopy ? posix.resolve(workdir, distCopy.dest) : '';
    const inImage = (app: string) => posix.join(distInImage, relative('dist', bundleOf(app)).split('\\').join('/'));

    it('is multi-stage: the build runs `nx run-many -t build`, production dependencies come from `npm ci --omit=dev`', () => {
      expect(stages.length).toBeGreaterThanOrEqual(3);
      expect(buildStage, 'a stage that runs `npx nx run-many -t build`').toBeDefined();
      expect(depsStage, 'a stage that runs `npm ci --omit=dev`').toBeDefined();
      expect(buildStage!.instructions.some((i) => i.keyword === 'COPY' && i.args === '. .')).toBe(true);
      // The runtime takes dist/ from the build stage, where nx wrote it (<WORKDIR>/dist).
      expect(distCopy?.from).toBe(buildStage!.name);
      expect(distCopy?.sources).toEqual([posix.join(workdirOf(buildStage!), 'dist')]);
      const modules = runtime.instructions.filter((i) => i.keyword === 'COPY').map(copyOf).find((copy) => copy.sources.some((s) => s.endsWith('/node_modules')));
      expect(modules?.from).toBe(depsStage!.name);
    });

    it('copies every workspace package.json (and the bins it declares) before `npm ci`', () => {
      for (const stage of [buildStage!, depsStage!]) {
        const ci = stage.instructions.findIndex((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args));
        const copied = stage.instructions.slice(0, ci).filter((i) => i.keyword === 'COPY').flatMap((i) => copyOf(i).sources);
        expect(copied).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', '.npmrc']));
        for (const workspace of workspaces()) {
          expect(copied, `${stage.name}: ${workspace}/package.json`).toContain(`${workspace}/package.json`);
          for (const bin of Object.values(readJson<PackageJson>(workspace, 'package.json').bin ?? {})) {
            expect(copied, `${stage.name}: ${workspace}'s bin ${bin}`).toContain(posix.join(workspace, posix.dirname(bin)));
          }
        }
      }
    });

    it('copies only files that exist in the build context, none of them ignored by /.dockerignore', () => {
      const ignored = read('.dockerignore').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#') && !line.startsWith('!'));
      for (const stage of stages) {
        for (const copy of stage.instructions.filter((i) => i.keyword === 'COPY').map(copyOf)) {
          if (copy.from) continue;
          for (const source of copy.sources) {
            if (source !== '.') expect(existsSync(at(source)), `${file}: COPY ${source}`).toBe(true);
            expect(ignored, `${file}: COPY ${source} is ignored`).not.toContain(source.split('/')[0]);
          }
        }
      }
      expect(ignored).toEqual(expect.arrayContaining(['**/node_modules', 'dist', '.git', 'models', '**/.env']));
    });

    it(`runs the CLI bundle (${bundleOf(CLI_APP)}) under tini, which forwards SIGTERM`, () => {
      const entrypoint = JSON.parse(runtime.instructions.find((i) => i.keyword === 'ENTRYPOINT')!.args) as string[];
      expect(entrypoint[0]).toMatch(/(^|\/)tini$/);
      // Not `tini -g`: the `worker` launcher forwards SIGTERM itself; a second one ends the
      // worker's graceful shutdown early.
      expect(entrypoint.slice(1, entrypoint.indexOf('--'))).not.toContain('-g');
      expect(entrypoint.slice(entrypoint.indexOf('--') + 1)).toEqual(['node', inImage(CLI_APP)]);
      expect(runs(runtime).some((run) => /apt-get install[^&]*\btini\b/.test(run))).toBe(true);
    });

    it(`points SIGLIP_BATCH_WORKER_ENTRY at the worker bundle (${bundleOf(WORKER_APP)})`, () => {
      const env = new Map(runtime.instructions.filter((i) => i.keyword === 'ENV').flatMap((i) => envPairs(i.args)));
      expect(env.get('SIGLIP_BATCH_WORKER_ENTRY')).toBe(inImage(WORKER_APP));
      for (const name of env.keys()) {
        if (name.startsWith('SIGLIP_BATCH_')) expect(OUR_ENV, `ENV ${name} is read by the code`).toContain(name);
      }
    });

    it('runs as a numeric non-root user (Kubernetes can verify runAsNonRoot)', () => {
      const user = runtime.instructions.filter((i) => i.keyword === 'USER').at(-1)?.args ?? '0';
      expect(user).toMatch(/^\d+(:\d+)?$/);
      expect(Number(user.split(':')[0])).toBeGreaterThan(0);
    });

    if (file === 'Dockerfile.cpu') {
      it('never downloads ONNX Runtime’s CUDA libraries', () => {
        for (const stage of [buildStage!, depsStage!]) {
          const env = new Map(stage.instructions.filter((i) => i.keyword === 'ENV').flatMap((i) => envPairs(i.args)));
          expect(env.get('ONNXRUNTIME_NODE_INSTALL')).toBe('skip');
        }
      });
    } else {
      it('installs ONNX Runtime’s CUDA 12 provider and runs on an nvidia/cuda cuDNN runtime image', () => {
        // npm ci never runs dependencies' install scripts (.npmrc: ignore-scripts), so the stage
        // runs onnxruntime-node's own, asking for the CUDA 12 provider, after npm ci.
        const deps = runs(depsStage!);
        expect(deps.some((run) => /\bnpm ci\b[\s\S]*&&\s*ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install\.js/.test(run))).toBe(true);
        const env = new Map(depsStage!.instructions.filter((i) => i.keyword === 'ENV').flatMap((i) => envPairs(i.args)));
        expect(env.get('ONNXRUNTIME_NODE_INSTALL')).toBeUndefined();
        expect(globalArgs.get('CUDA_IMAGE')).toMatch(/^nvidia\/cuda:12\.\d+(\.\d+)?-cudnn-runtime-/);
        expect(runtime.from).toBe(globalArgs.get('CUDA_IMAGE'));
        expect(runtime.instructions.some((i) => i.keyword === 'COPY' && /\/usr\/local\/bin\/node\b/.test(i.args))).toBe(true);
      });
    }
  });

  describe('the bundles, run the way the images run them', () => {
    beforeAll(() => {
      // What `nx run-many -t build` runs for each app: its project.json build command.
      for (const app of APPS) {
        const command = readJson<{ targets: { build: { command: string } } }>('apps', app, 'project.json').targets.build.command;
        const [program, ...args] = command.split(/\s+/);
        expect(program).toBe('node');
        const result = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
        expect(result.status, `${command}\n${result.stderr}`).toBe(0);
      }
    }, 240_000);

    it('writes the entrypoints the images name', () => {
      for (const app of APPS) expect(existsSync(at(bundleOf(app))), bundleOf(app)).toBe(true);
    });

    it('runs `worker --help` through the CLI bundle and SIGLIP_BATCH_WORKER_ENTRY', () => {
      const env = { ...process.env, SIGLIP_BATCH_WORKER_ENTRY: at(bundleOf(WORKER_APP)) };
      const version = spawnSync(process.execPath, [at(bundleOf(CLI_APP)), '--version'], { cwd: tmpdir(), encoding: 'utf8', env });
      expect(version.stdout.trim()).toBe(readJson<PackageJson>('apps', CLI_APP, 'package.json').version);
      const help = spawnSync(process.execPath, [at(bundleOf(CLI_APP)), 'worker', '--help'], { cwd: tmpdir(), encoding: 'utf8', env });
      expect(help.status, help.stderr).toBe(0);
      expect(help.stdout).toMatch(/^Usage: siglip-batch worker/m);
    });

    it('has every thread entry a bundle starts by path beside it (e.g. the ONNX Runtime inference thread)', () => {
      const missing: string[] = [];
      for (const app of APPS) {
        // main.mjs and its chunks: the build splits each subcommand into files beside main.mjs.
        const dir = dirname(at(bundleOf(app)));
        const bundle = readdirSync(dir).filter((file) => file.endsWith('.mjs')).map((file) => readFileSync(join(dir, file), 'utf8')).join('\n');
        for (const [, entry] of bundle.matchAll(/new URL\(\s*["'`](\.\/[^"'`]+\.mjs)["'`]\s*,\s*import\.meta\.url\s*\)/g)) {
          // A name built at run time (`./${name}.thread.mjs`) stands for every thread entry of
          // the sources (`*.thread.ts` under libs/ and the app): each must be written.
          const entries = entry!.includes('${') ? threadSources(app).map((name) => `./${name}.mjs`) : [entry!];
          if (entries.length === 0) missing.push(`${bundleOf(app)} starts ${entry}, but no *.thread.ts source exists`);
          for (const file of entries) {
            if (!existsSync(join(dirname(at(bundleOf(app))), file))) missing.push(`${bundleOf(app)} starts ${file}, which the build does not write`);
          }
        }
      }
      expect(missing).toEqual([]);
    });
  });
});

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

describe('Redis settings', () => {
  const composeConf = read('infra', 'redis', 'redis.conf');

  it('are one file: infra/k8s/redis.conf equals infra/redis/redis.conf', () => {
    const generated = kustomization.configMapGenerator?.find((generator) => generator.name === 'redis-config');
    expect(generated?.files).toEqual(['redis.conf']);
    expect(read('infra', 'k8s', 'redis.conf')).toBe(composeConf);
  });

  it('never evict, persist with an append-only file fsynced every second, hold no password', () => {
    const directives = redisDirectives(composeConf);
    expect(directives.get('maxmemory-policy')).toBe('noeviction');
    expect(directives.get('appendonly')).toBe('yes');
    expect(directives.get('appendfsync')).toBe('everysec');
    expect(directives.has('requirepass')).toBe(false);
  });

  describe('in a real redis-server', () => {
    let server: ChildProcess | undefined;
    let dir: string;
    let url: string;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'siglip-redis-conf-'));
      const port = await freePort();
      url = `redis://127.0.0.1:${port}`;
      // Our file as compose and the StatefulSet use it; only the address is the test's.
      server = spawn('redis-server', [at('infra', 'redis', 'redis.conf'), '--port', String(port), '--bind', '127.0.0.1'], { cwd: dir, stdio: 'ignore' });
      const deadline = Date.now() + 10_000;
      for (;;) {
        const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        probe.on('error', () => undefined);
        const up = await probe.connect().then(() => probe.ping(), () => undefined).finally(() => probe.disconnect());
        if (up === 'PONG') break;
        if (Date.now() > deadline || server.exitCode !== null) throw new Error('redis-server did not start with infra/redis/redis.conf');
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    afterAll(() => {
      server?.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });

    it('loads the file, and the workers’ own start-up check accepts it', async () => {
      const redis = await connectCheckedRedis(url, redisOptions('producer'));
      try {
        expect(await redis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
        expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      } finally {
        redis.disconnect();
      }
    });
  });

  it('are what the compose Redis and the StatefulSet run, with a password from the environment', () => {
    const service = COMPOSE.services['redis']!;
    const mount = service.volumes!.find((volume) => typeof volume !== 'string' && volume.source === '../redis/redis.conf');
    expect(mount).toMatchObject({ read_only: true });
    const target = typeof mount === 'string' ? '' : mount!.target;
    expect(([] as string[]).concat(service.command ?? []).join(' ')).toContain(`redis-server ${target} --requirepass`);
    expect(service.healthcheck?.test).toBeDefined();

    const redis = named('StatefulSet', 'redis');
    const pod = podTemplateOf(redis)!.spec;
    const config = pod.volumes!.find((volume) => volume.configMap?.name === 'redis-config')!;
    const mountPath = pod.containers[0]!.volumeMounts!.find((m) => m.name === config.name)!.mountPath;
    expect(pod.containers[0]!.command!.join(' ')).toContain(`redis-server ${mountPath}/redis.conf --requirepass`);
    expect((redis.spec as { volumeClaimTemplates?: unknown[] }).volumeClaimTemplates).toHaveLength(1);
  });
});

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

/** Names (`<name>.thread`) of the worker-thread entries in libs/ and an app's sources. */
function threadSources(app: string): string[] {
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
