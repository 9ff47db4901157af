/**
 * Start-up of the `siglip-batch` command (issue 17): how long a user waits before any work.
 *
 *   npm run bench:startup [-- --reps 11]        (= npx tsx bench/startup-bench.ts)
 *
 * Builds the bundles first (`npm run build`), then times, as separate processes run the way the
 * installed command runs (`node apps/producer/bin/siglip-batch.mjs …`), in rounds that alternate
 * the rows (A B C D A B C D …) so that load from other jobs on the machine falls on all of them:
 *
 * - `node -e 0`: Node's own start-up, the floor;
 * - `siglip-batch --help` from the bundle (SIGLIP_BATCH_RUN_FROM=bundle, as installed);
 * - `siglip-batch --help` from the TypeScript sources through tsx (SIGLIP_BATCH_RUN_FROM=source,
 *   as a checkout runs before `npm run build` or after an edit);
 * - a one-image `embed` with the tiny test model into a local folder, bundle and sources.
 *
 * Prints every repetition on stderr and a Markdown table of medians on stdout, with the ratio of
 * the bundled `--help` to `node -e 0` (target: at most 4) and the 1-minute load average.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { reps: { type: 'string', default: '11' } } });
const REPS = Number(args.reps);
if (!Number.isInteger(REPS) || REPS < 1) throw new Error(`--reps must be a positive integer, got ${args.reps}`);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BIN = join(ROOT, 'apps/producer/bin/siglip-batch.mjs');
const TINY = join(ROOT, 'fixtures/models/tiny-siglip');

interface Row {
  name: string;
  argv: (rep: number) => string[];
  env?: NodeJS.ProcessEnv;
}

const work = mkdtempSync(join(tmpdir(), 'startup-bench-'));
const images = join(work, 'images');
mkdirSync(images);
copyFileSync(join(ROOT, 'fixtures/images/astronaut_baseline.jpg'), join(images, 'astronaut.jpg'));
const embed = (from: string) => (rep: number) => [BIN, 'embed', '--source', images, '--out', join(work, 'runs'), '--model', TINY, '--labels', 'cat,dog', '--run', `${from}-${rep}`];
const ROWS: Row[] = [
  { name: '`node -e 0`', argv: () => ['-e', '0'] },
  { name: '`siglip-batch --help`, bundle', argv: () => [BIN, '--help'], env: { SIGLIP_BATCH_RUN_FROM: 'bundle' } },
  { name: '`siglip-batch --help`, sources through tsx', argv: () => [BIN, '--help'], env: { SIGLIP_BATCH_RUN_FROM: 'source' } },
  { name: '`siglip-batch --version`, bundle', argv: () => [BIN, '--version'], env: { SIGLIP_BATCH_RUN_FROM: 'bundle' } },
  { name: 'one-image `embed` (tiny model), bundle', argv: embed('bundle'), env: { SIGLIP_BATCH_RUN_FROM: 'bundle' } },
  { name: 'one-image `embed` (tiny model), sources through tsx', argv: embed('source'), env: { SIGLIP_BATCH_RUN_FROM: 'source' } },
];

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

function timeOnce(row: Row, rep: number): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, row.argv(rep), { cwd: work, env: { ...process.env, ...row.env }, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${row.name} exited ${result.status}: ${result.stderr}`);
  return ms;
}

try {
  process.stderr.write('building the bundles (npm run build)…\n');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const times = ROWS.map(() => [] as number[]);
  const loads: number[] = [];
  // One warm-up round (file system cache, tsx's compile cache), not counted.
  for (const row of ROWS) timeOnce(row, -1);
  for (let rep = 0; rep < REPS; rep++) {
    ROWS.forEach((row, i) => times[i]!.push(timeOnce(row, rep)));
    loads.push(loadavg()[0]!);
    process.stderr.write(`round ${rep + 1}/${REPS}: ${times.map((t) => t.at(-1)!.toFixed(0)).join(' ')} ms\n`);
  }
  const medians = times.map(median);
  const node = medians[0]!;
  process.stdout.write(`\n| command (${REPS} runs each, alternating) | median wall time | ÷ \`node -e 0\` |\n|---|---:|---:|\n`);
  ROWS.forEach((row, i) => process.stdout.write(`| ${row.name} | ${medians[i]!.toFixed(0)} ms | ${(medians[i]! / node).toFixed(1)}× |\n`));
  const ratio = medians[1]! / node;
  process.stdout.write(
    `\nNode ${process.version}, 1-minute load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}.\n` +
      `\`siglip-batch --help\` (bundle) ÷ \`node -e 0\` = ${ratio.toFixed(2)} (target ≤ 4: ${ratio <= 4 ? 'met' : 'NOT met'}); ` +
      `tsx ÷ bundle = ${(medians[2]! / medians[1]!).toFixed(1)}×.\n`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
