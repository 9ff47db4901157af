/**
 * ONNX Runtime's own telemetry (≥ 1.29 on Linux: a device id and an event cache under
 * ~/.cache/Microsoft/DeveloperTools/.onnxruntime, uploads to Microsoft) is off in our processes
 * unless the user asks for it (libs/model `turnOffOrtTelemetryUnlessSet`). Each process gets a
 * home directory of its own, and the test looks at what was written there.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT, TINY_MODEL } from './support/cli';

const work = mkdtempSync(join(tmpdir(), 'siglip-ort-telemetry-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const photos = join(work, 'photos');
mkdirSync(photos);
copyFileSync(join(REPO_ROOT, 'fixtures/images/chelsea.webp'), join(photos, 'chelsea.webp'));

const ORT_CACHE = ['.cache', 'Microsoft', 'DeveloperTools', '.onnxruntime'];
/**
 * ONNX Runtime keeps its telemetry quiet when it sees a CI service's variables (its own list, in
 * the library's strings): the processes here run without them, as on a user's machine, or the
 * first case would show nothing to turn off.
 */
const CI_VARIABLES = [
  'CI',
  'APPVEYOR',
  'BUILDKITE',
  'CIRCLECI',
  'CODEBUILD_BUILD_ID',
  'GITHUB_ACTIONS',
  'GITLAB_CI',
  'JENKINS_URL',
  'ORT_RUNNING_UNIT_TESTS',
  'SYSTEM_TEAMFOUNDATIONCOLLECTIONURI',
  'TEAMCITY_VERSION',
  'TF_BUILD',
  'TRAVIS',
];

/** A fresh home directory, and the environment of a process that has it. */
function home(name: string, extra: NodeJS.ProcessEnv = {}): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = join(work, name);
  mkdirSync(dir);
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir };
  for (const name of ['ORT_DISABLE_TELEMETRY', 'XDG_CACHE_HOME', ...CI_VARIABLES]) delete env[name];
  return { dir, env: { ...env, ...extra } };
}

function embed(env: NodeJS.ProcessEnv, run: string): void {
  const result = spawnSync(CLI, ['embed', '--source', photos, '--out', join(work, 'runs'), '--model', TINY_MODEL, '--labels', 'cat', '--run', run], { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 120_000 });
  expect(result.status, result.stderr).toBe(0);
}

describe("ONNX Runtime's telemetry", () => {
  it('is what ONNX Runtime does on its own here: a device id and an event cache in the home directory', () => {
    const { dir, env } = home('plain-ort');
    const script = join(work, 'plain-ort.cjs');
    const ort = createRequire(join(REPO_ROOT, 'package.json')).resolve('onnxruntime-node');
    writeFileSync(script, `require(${JSON.stringify(ort)}).InferenceSession.create(${JSON.stringify(join(TINY_MODEL, 'onnx/vision_model.onnx'))}).then(() => process.exit(0));\n`);
    const result = spawnSync(process.execPath, [script], { env, encoding: 'utf8', timeout: 60_000 });
    expect(result.status, result.stderr).toBe(0);
    expect(readdirSync(join(dir, ...ORT_CACHE)).sort()).toEqual(expect.arrayContaining(['deviceid']));
  });

  it('is off in siglip-batch embed: nothing is written to the home directory', () => {
    const { dir, env } = home('embed');
    embed(env, 'quiet');
    expect(existsSync(join(dir, '.cache', 'Microsoft'))).toBe(false);
  });

  it('is left to the user who sets ORT_DISABLE_TELEMETRY: 0 turns it on', () => {
    const { dir, env } = home('embed-opted-in', { ORT_DISABLE_TELEMETRY: '0' });
    embed(env, 'opted-in');
    expect(readdirSync(join(dir, ...ORT_CACHE))).toContain('deviceid');
  });
});
