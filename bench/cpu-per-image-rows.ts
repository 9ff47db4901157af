import { execFileSync } from 'node:child_process';

/** What `cpu-per-image.ts --json` prints (the parts run-all.ts shows). */
interface CpuPerImageJson {
  exact: Array<{ name: string; decodeMs: number; resizeMs: number; totalMs: number }>;
  fast: Array<{ totalMs: number }>;
  fastAvailable: boolean;
  rss: Array<{ geometry: string; variant: string; peakRss?: number; skipped?: string }>;
  load: [number, number];
}

/**
 * run-all.ts's rows of `cpu-per-image.ts` (run as its own process, `--json`): per size class the
 * exact ms per image on one core (decode + resize) and the cores per GPU at 870 / 3,590 images/s,
 * the same for the fast decode; the worker's peak RSS (tiny and base; tiny only with `--quick`:
 * so400m takes many minutes on a small machine). Pushes the load averages it saw to `loads`.
 */
export function cpuPerImageRows(tsx: string, root: string, reps: number, quick: boolean, loads: number[]): Array<{ measure: string; result: string }> {
  const argv = ['bench/cpu-per-image.ts', '--json', '--reps', String(reps), '--geometries', quick ? 'tiny' : 'tiny,base', ...(quick ? ['--quick'] : [])];
  const stdout = execFileSync(tsx, argv, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 24 });
  const cpu = JSON.parse(stdout.trim().split('\n').pop()!) as CpuPerImageJson;
  loads.push(...cpu.load);
  const f = (x: number, digits = 1) => x.toFixed(digits);
  const cores = (ms: number) => `${f((870 * ms) / 1000, 0)} / ${f((3590 * ms) / 1000, 0)}`;
  const rows = cpu.exact.map((e, i) => {
    const fastMs = cpu.fast[i]!.totalMs;
    return {
      measure: `CPU per image, 1 core, ${e.name}: ms exact (decode + resize) → cores/GPU at 870 / 3,590 img/s; fast`,
      result: `${f(e.totalMs)} (${f(e.decodeMs)} + ${f(e.resizeMs)}) → ${cores(e.totalMs)}; ${cpu.fastAvailable ? `${f(fastMs)} → ${cores(fastMs)} (${f(e.totalMs / fastMs)}×)` : 'n/a'}`,
    };
  });
  for (const r of cpu.rss) {
    rows.push({ measure: `worker peak RSS, ${r.geometry} ${r.variant}, 32 × 12 MP JPEGs at batch 32`, result: r.skipped ?? `${f(r.peakRss! / 1024 ** 2, 0)} MB` });
  }
  return rows;
}
