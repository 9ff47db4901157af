/**
 * Models from the Hugging Face Hub: `siglip-batch model pull` and `--model hf://…`, with the real
 * `@huggingface/hub` client against a local server speaking the Hub's API and file routes
 * (test/support/hub-server.ts) for repositories built from the tiny fixture in the Xenova layout.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadModelDir } from '@siglip-batch/model';
import { pullHubModel } from '@siglip-batch/pipeline';
import { TINY_MODEL, runCli, startWorker, waitForWorkerStart } from './support/cli';
import { uniqueName } from './support/harness';
import { combinedOnlyRepo, safetensorsRepo, tinyLogits, xenovaRepo } from './support/hub-fixture-repos';
import { HubServer } from './support/hub-server';
import { makeSampleImage } from './support/sample-images';

const TOKEN = 'hf_localTestToken0123456789abcdefXYZ';
const XENOVA = 'test-org/tiny-siglip-onnx';
const hub = new HubServer({ token: TOKEN });
const work = mkdtempSync(join(tmpdir(), 'siglip-hub-'));
let xenovaCommit = '';
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  xenovaCommit = hub.addRepo(xenovaRepo(XENOVA, ['v1.0'])).commit;
  hub.addRepo(safetensorsRepo('test-org/tiny-siglip-safetensors'));
  hub.addRepo(combinedOnlyRepo('test-org/combined-only'));
  await hub.start();
  env = { ...process.env, HF_ENDPOINT: hub.url, HF_TOKEN: TOKEN, SIGLIP_BATCH_CACHE: join(work, 'cache'), REDIS_URL: 'redis://127.0.0.1:1' };
  const images = join(work, 'images');
  mkdirSync(images);
  for (let i = 0; i < 3; i++) {
    const image = await makeSampleImage(7100 + i);
    writeFileSync(join(images, image.name), image.bytes);
  }
});

afterAll(async () => {
  await hub.stop();
  rmSync(work, { recursive: true, force: true });
});

function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(dir, join(prefix, e.name)) : [join(prefix, e.name)]))
    .sort();
}

async function embeddings(model: string, extra: string[] = []): Promise<number[][]> {
  const result = await runCli(['model', 'embed', '--model', model, '--threads', '1', ...extra, join(work, 'images')], env);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { embedding: number[] }).embedding);
}

describe('siglip-batch model pull', () => {
  it('pulls the fp32 files of a Xenova-layout repo, which then load and embed exactly as the original; the token is sent, never printed', async () => {
    const out = join(work, 'pulled-fp32');
    hub.requests.length = 0;
    const result = await runCli(['model', 'pull', XENOVA, '--out', out], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`commit ${xenovaCommit}`);
    expect(filesUnder(out)).toEqual(
      [
        'config.json',
        'onnx/model.onnx',
        'onnx/model.onnx_data',
        'onnx/text_model.onnx',
        'onnx/vision_model.onnx',
        'preprocessor_config.json',
        'special_tokens_map.json',
        'spiece.model',
        'tokenizer.json',
        'tokenizer_config.json',
      ],
    );
    for (const f of ['onnx/vision_model.onnx', 'tokenizer.json']) expect(readFileSync(join(out, f)).equals(readFileSync(join(TINY_MODEL, f)))).toBe(true);

    // every request carried the token; none of our output shows it
    expect(hub.requests.length).toBeGreaterThan(10);
    expect(hub.requests.filter((r) => r.authorization !== `Bearer ${TOKEN}`)).toEqual([]);
    expect(result.stdout + result.stderr).not.toContain(TOKEN);
    // the client's own calls: revision → commit, tree at the commit, Range probes, files at the commit
    expect(hub.requests[0]!.url).toMatch(new RegExp(`^/api/models/${XENOVA}/revision/main\\?`));
    expect(hub.requests.some((r) => r.url.startsWith(`/api/models/${XENOVA}/tree/${xenovaCommit}?recursive=true`))).toBe(true);
    expect(hub.requests.filter((r) => r.url.includes('/resolve/')).every((r) => r.url.includes(`/resolve/${xenovaCommit}/`))).toBe(true);
    expect(hub.requests.some((r) => r.range === 'bytes=0-0')).toBe(true);

    const info = await loadModelDir(out);
    expect(info.layout).toBe('hub');
    expect(info.logitSource).toBe('onnx/model.onnx');
    expect(info.logitScale).toBeCloseTo(tinyLogits().scale, 6);
    expect(info.logitBias).toBeCloseTo(tinyLogits().bias, 6);
    const ours = await embeddings(out);
    expect(ours).toEqual(await embeddings(TINY_MODEL));

    // pulling again downloads nothing (every file is there with the right hash)
    const again = await runCli(['model', 'pull', XENOVA, '--out', out, '--json'], env);
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { downloadedBytes: number }).downloadedBytes).toBe(0);
  });

  it('pulls only the files of --variant fp16 at a tag, and they load as that variant', async () => {
    const out = join(work, 'pulled-fp16');
    const result = await runCli(['model', 'pull', XENOVA, '--revision', 'v1.0', '--variant', 'fp16', '--out', out, '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { commit: string; files: Array<{ path: string }> };
    expect(report.commit).toBe(xenovaCommit);
    expect(report.files.map((f) => f.path).filter((p) => p.startsWith('onnx/')).sort()).toEqual([
      'onnx/model.onnx',
      'onnx/model.onnx_data',
      'onnx/text_model_fp16.onnx',
      'onnx/vision_model_fp16.onnx',
    ]);
    expect(existsSync(join(out, 'onnx/vision_model.onnx'))).toBe(false);
    const fp16 = await embeddings(out, ['--variant', 'fp16']);
    expect(fp16).toEqual(await embeddings(TINY_MODEL, ['--variant', 'fp16']));
  });

  it('takes logit scale/bias from model.safetensors when the repo has that instead of a combined graph', async () => {
    const out = join(work, 'pulled-safetensors');
    const result = await runCli(['model', 'pull', 'test-org/tiny-siglip-safetensors', '--out', out, '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    expect((JSON.parse(result.stdout) as { logitSource: string }).logitSource).toBe('model.safetensors');
    const info = await loadModelDir(out);
    expect(info.logitSource).toBe('model.safetensors');
    expect(info.logitScale).toBeCloseTo(tinyLogits().scale, 6);
  });

  it('refuses a wrong revision, a missing repo, a missing variant and a combined-only repo with one clear error each', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[XENOVA, '--revision', 'no-such-branch'], /test-org\/tiny-siglip-onnx \(revision no-such-branch\): not found on the Hub \(404\): Invalid rev id: no-such-branch/],
      [['test-org/no-such-repo'], /test-org\/no-such-repo \(revision main\): not found on the Hub \(404\): Repository not found/],
      [[XENOVA, '--variant', 'q4'], /variant q4 missing: no onnx\/vision_model_q4\.onnx \+ onnx\/text_model_q4\.onnx \(variants with both towers: fp32, fp16\)/],
      [['test-org/combined-only'], /variant fp32 missing: .*variants with both towers: none; only a combined onnx\/model_\*\.onnx, which cannot embed images and texts separately: fp32/],
      [['../etc'], /not a Hub repository id/],
    ];
    for (const [args, expected] of cases) {
      const out = join(work, 'refused');
      const result = await runCli(['model', 'pull', ...args, '--out', out], env);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr).toMatch(expected);
      expect(result.stderr).not.toContain(TOKEN);
      expect(existsSync(join(out, 'onnx'))).toBe(false);
    }
  });

  it('says a token is needed when the Hub answers 401, without printing any token', async () => {
    const result = await runCli(['model', 'pull', XENOVA, '--out', join(work, 'no-token')], { ...env, HF_TOKEN: 'hf_wrongTokenForThisHub000000' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/access denied \(401\); a gated or private repo needs HF_TOKEN/);
    expect(result.stderr).not.toContain('hf_wrongTokenForThisHub000000');
  });
});

describe('interrupted downloads', () => {
  const client = () => ({ hubUrl: hub.url, accessToken: TOKEN });

  it('resumes a file whose connection dropped mid-way with a Range request, and verifies it', async () => {
    const out = join(work, 'dropped');
    hub.requests.length = 0;
    hub.dropOnce('onnx/text_model.onnx');
    const result = await pullHubModel({ repo: XENOVA, revision: 'main' }, 'fp32', out, client());
    const size = readFileSync(join(TINY_MODEL, 'onnx/text_model.onnx')).length;
    expect(readFileSync(join(out, 'onnx/text_model.onnx')).equals(readFileSync(join(TINY_MODEL, 'onnx/text_model.onnx')))).toBe(true);
    const ranged = hub.requests.filter((r) => r.url.startsWith('/lfs-objects/') && r.range && r.range !== 'bytes=0-0');
    expect(ranged.map((r) => r.range)).toEqual([`bytes=${Math.floor(size / 2)}-${size - 1}`]);
    // the half delivered before the drop was not fetched again
    expect(result.downloadedBytes).toBe(result.files.reduce((n, f) => n + f.size, 0));
    expect(filesUnder(out).some((f) => f.endsWith('.part'))).toBe(false);
  });

  it('resumes a .part left by an interrupted earlier pull, and throws away one that does not hash right', async () => {
    const out = join(work, 'left-over');
    const original = readFileSync(join(TINY_MODEL, 'onnx/vision_model.onnx'));
    mkdirSync(join(out, 'onnx'), { recursive: true });
    writeFileSync(join(out, 'onnx/vision_model.onnx.part'), original.subarray(0, 1000));
    hub.requests.length = 0;
    await pullHubModel({ repo: XENOVA, revision: 'main' }, 'fp32', out, client());
    expect(readFileSync(join(out, 'onnx/vision_model.onnx')).equals(original)).toBe(true);
    expect(hub.requests.some((r) => r.range === `bytes=1000-${original.length - 1}`)).toBe(true);

    const bad = join(work, 'bad-part');
    mkdirSync(join(bad, 'onnx'), { recursive: true });
    writeFileSync(join(bad, 'onnx/vision_model.onnx.part'), Buffer.alloc(1000, 7));
    await expect(pullHubModel({ repo: XENOVA, revision: 'main' }, 'fp32', bad, client())).rejects.toThrow(/content does not match the Hub's sha256 \(removed; pull again\)/);
    expect(existsSync(join(bad, 'onnx/vision_model.onnx.part'))).toBe(false);
    expect(existsSync(join(bad, 'onnx/vision_model.onnx'))).toBe(false);
    // and the next attempt succeeds
    await pullHubModel({ repo: XENOVA, revision: 'main' }, 'fp32', bad, client());
    expect(readFileSync(join(bad, 'onnx/vision_model.onnx')).equals(original)).toBe(true);
  });
});

describe('--model hf://', () => {
  it('embed pulls the repo once into the hash-verified cache; a pinned commit is used later without asking the Hub', async () => {
    const cache = join(work, 'cache', 'models');
    const run = async (model: string, name: string) => {
      const result = await runCli(['embed', '--source', join(work, 'images'), '--out', join(work, 'runs'), '--model', model, '--run', name, '--threads', '1'], env);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).not.toContain(TOKEN);
      return result;
    };
    hub.requests.length = 0;
    await run(`hf://${XENOVA}@v1.0`, 'hub-1');
    expect(hub.requests.filter((r) => r.url.startsWith('/lfs-objects/') && r.range !== 'bytes=0-0').length).toBeGreaterThan(0);
    const entries = readdirSync(cache).filter((e) => /^[0-9a-f]{64}$/.test(e));
    expect(entries).toHaveLength(1);
    expect(existsSync(join(cache, entries[0]!, '.siglip-batch-verified'))).toBe(true);
    expect(readFileSync(join(cache, 'hf', 'test-org', 'tiny-siglip-onnx', `${xenovaCommit}.fp32`), 'utf8').trim()).toBe(entries[0]);
    expect(readdirSync(cache).filter((e) => e.startsWith('.download-'))).toEqual([]);

    // a tag: one API call to learn its commit, no file downloads
    hub.requests.length = 0;
    await run(`hf://${XENOVA}@v1.0`, 'hub-2');
    expect(hub.requests.map((r) => r.url.split('?')[0])).toEqual([`/api/models/${XENOVA}/revision/v1.0`]);

    // a commit: nothing at all, even with the Hub gone
    await hub.stop();
    try {
      await run(`hf://${XENOVA}@${xenovaCommit}`, 'hub-3');
    } finally {
      await hub.start();
      env = { ...env, HF_ENDPOINT: hub.url };
    }
    const a = readFileSync(join(work, 'runs', 'hub-1', '_manifest.json'), 'utf8');
    const c = readFileSync(join(work, 'runs', 'hub-3', '_manifest.json'), 'utf8');
    const hash = (m: string) => (JSON.parse(m) as { model: { hash?: string; contentHash?: string } }).model;
    expect(hash(c)).toEqual(hash(a));
  });

  it('the worker pulls the variant it serves into the cache and takes the queue of that content hash', async () => {
    const env2 = { ...env, REDIS_URL: inject('redisUrl'), SIGLIP_BATCH_PREFIX: uniqueName('hub'), SIGLIP_BATCH_CACHE: join(work, 'worker-cache') };
    const worker = startWorker(['--model', `hf://${XENOVA}@${xenovaCommit}`, '--variant', 'fp16', '--threads', '1'], env2);
    try {
      await waitForWorkerStart(worker, 120_000);
    } finally {
      await worker.stop();
    }
    const cache = join(work, 'worker-cache', 'models');
    const entry = readFileSync(join(cache, 'hf', 'test-org', 'tiny-siglip-onnx', `${xenovaCommit}.fp16`), 'utf8').trim();
    expect(worker.log()).toContain(`"queue":"siglip-${entry.slice(0, 16)}-fp16"`);
    expect(worker.log()).not.toContain(TOKEN);
    expect(filesUnder(join(cache, entry)).filter((f) => f.startsWith('onnx/'))).toEqual([
      'onnx/model.onnx',
      'onnx/model.onnx_data',
      'onnx/text_model_fp16.onnx',
      'onnx/vision_model_fp16.onnx',
    ]);
  });
});
