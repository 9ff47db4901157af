/**
 * `siglip-batch embed` as it runs (the bin restarts it with glibc's allocator settings,
 * tools/run-app.mjs `ALLOCATOR_TUNABLES`) against the same command with glibc's defaults
 * (`GLIBC_TUNABLES=` empty: the bin then leaves the process alone), alternating, on the bench
 * photos and on one photo. Per run: page faults, CPU (user + system), wall time and peak RSS, as
 * GNU time reports them for the whole process:
 *
 *   npx tsx bench/probes/embed-allocator.ts [--reps 7]
 *
 * Needs `/usr/bin/time` (Debian's `time` package), `npm run build` and bench/out/photos (run-all).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TIME = '/usr/bin/time';

interface Sample {
  faults: number;
  cpuSeconds: number;
  wallSeconds: number;
  rssMb: number;
}

function embed(photos: string, out: string, allocator: 'ours' | 'glibc'): Sample {
  const report = join(out, 'time.txt');
  const env: NodeJS.ProcessEnv = { ...process.env, SIGLIP_BATCH_RUN_FROM: 'bundle' };
  delete env['GLIBC_TUNABLES'];
  if (allocator === 'glibc') env['GLIBC_TUNABLES'] = '';
  rmSync(join(out, 'runs'), { recursive: true, force: true });
  const args = ['-f', '%R %U %S %e %M', '-o', report, process.execPath, join(ROOT, 'apps/producer/bin/siglip-batch.mjs'), 'embed'];
  args.push('--source', photos, '--out', join(out, 'runs'), '--model', join(ROOT, 'fixtures/models/tiny-siglip'), '--labels', 'cat,dog,car', '--run', 'r1', '--json');
  const result = spawnSync(TIME, args, { env, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`embed failed (${result.status}): ${result.stderr}`);
  const [faults, user, system, wall, rssKb] = readFileSync(report, 'utf8').trim().split('\n').pop()!.split(' ').map(Number) as [number, number, number, number, number];
  return { faults, cpuSeconds: user + system, wallSeconds: wall, rssMb: rssKb / 1024 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function describe(label: string, samples: Sample[]): string {
  const m = (key: keyof Sample) => median(samples.map((s) => s[key]));
  const range = (key: keyof Sample, digits: number) => `${Math.min(...samples.map((s) => s[key])).toFixed(digits)}–${Math.max(...samples.map((s) => s[key])).toFixed(digits)}`;
  return (
    `${label}: ${Math.round(m('faults'))} page faults (${range('faults', 0)}), ${m('cpuSeconds').toFixed(2)} s CPU (${range('cpuSeconds', 2)}), ` +
    `${m('wallSeconds').toFixed(2)} s wall (${range('wallSeconds', 2)}), ${Math.round(m('rssMb'))} MB peak RSS`
  );
}

const { values } = parseArgs({ options: { reps: { type: 'string', default: '7' } } });
const reps = Number(values.reps);
if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps must be a positive integer, got ${values.reps}`);
if (!existsSync(TIME)) throw new Error(`${TIME} is missing (Debian: apt-get install time)`);
const photos = join(ROOT, 'bench/out/photos');
if (!existsSync(photos)) throw new Error(`${photos} is missing: run npm run bench once (it makes the photo set)`);
execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
const out = mkdtempSync(join(tmpdir(), 'embed-allocator-'));
try {
  const one = join(out, 'one-photo');
  mkdirSync(one);
  const first = readdirSync(photos).sort()[0]!;
  copyFileSync(join(photos, first), join(one, first));
  for (const [name, dir] of [[`${readdirSync(photos).length} photos`, photos], ['one photo', one]] as const) {
    embed(dir, out, 'ours'); // warm-up (file cache, compile cache), not counted
    const samples = { ours: [] as Sample[], glibc: [] as Sample[] };
    for (let rep = 0; rep < reps; rep++) {
      samples.glibc.push(embed(dir, out, 'glibc'));
      samples.ours.push(embed(dir, out, 'ours'));
    }
    console.log(`${name}, ${reps} alternating pairs (medians, ranges):`);
    console.log(`  ${describe('allocator settings (as the bin runs it)', samples.ours)}`);
    console.log(`  ${describe('glibc defaults (GLIBC_TUNABLES=)', samples.glibc)}`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
