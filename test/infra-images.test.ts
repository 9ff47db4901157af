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
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ALLOCATOR_TUNABLES } from '../tools/run-app.mjs';
import { ROOT, at, read, PackageJson, readJson, APPS, bundleOf, CLI_APP, WORKER_APP, workspaces, OUR_ENV, DockerStage, parseDockerfile, envPairs, workdirOf, copyOf, threadSources } from './support/infra-files';

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

    it('sets the allocator settings the bin sets for itself (GLIBC_TUNABLES): the image runs the bundle, not the bin', () => {
      const env = new Map(runtime.instructions.filter((i) => i.keyword === 'ENV').flatMap((i) => envPairs(i.args)));
      expect(env.get('GLIBC_TUNABLES')).toBe(ALLOCATOR_TUNABLES);
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
