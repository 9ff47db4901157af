/**
 * The scale bench's planning rows (scale-bench.ts measures them): one row per source, number of
 * planning units and number of producer processes sharing them, and the `--plan-only` report.
 */
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mb = (bytes: number) => `${fmt(bytes / 1e6, 1)} MB`;

export interface PlanRow {
  source: 'listing' | 'inventory';
  units: number;
  /** Producer processes sharing the units (planners per process: units ÷ processes). */
  processes: number;
  unitsSplit: number;
  objectsPerS: number;
  ms: number;
  cpuMs: number;
  endpointCpuMs: number;
  peakRss: number;
  requests: number;
  endpointRequests: number;
  redis: { queue: number; run: number; jobs: number };
  shards: number;
}

export function planRowLine(p: PlanRow): string {
  const who = `producer, ${p.source}, ${p.units} planner${p.units > 1 ? 's' : ''}${p.processes > 1 ? ` in ${p.processes} processes` : ''}`;
  return `| ${who} | ${fmt(p.ms / 1000, 1)} s | ${fmt(p.objectsPerS)} | ${fmt(p.cpuMs / 1000, 1)} s (+${fmt(p.endpointCpuMs / 1000, 1)} s endpoint) | ${mb(p.peakRss)} | ${fmt(p.requests)} (+${fmt(p.endpointRequests)} source) | ${p.unitsSplit} unit${p.unitsSplit > 1 ? 's' : ''} in the split; Redis ${mb(p.redis.queue)} queue (${fmt(p.shards)} jobs waiting) + ${mb(p.redis.run)} run state |`;
}

/** `--plan-only`: the planning rows and each size's ratios to one unit. */
export function reportPlans(results: Array<{ objects: number; plans: PlanRow[] }>, context: { startedAt: Date; loads: number[]; pageMs: number }): void {
  const { startedAt, loads, pageMs } = context;
  const out: string[] = [`## scale bench, planning only — ${startedAt.toISOString().slice(0, 16)}Z, load average ${fmt(Math.min(...loads), 2)}–${fmt(Math.max(...loads), 2)}, ${pageMs} ms per listing page`];
  for (const r of results) {
    out.push('', `### ${fmt(r.objects)} objects`, '', '| process | wall | objects/s | CPU | peak RSS | store requests | notes |', '|---|---:|---:|---:|---:|---:|---|');
    for (const p of r.plans) out.push(planRowLine(p));
    out.push('');
    for (const source of ['listing', 'inventory'] as const) {
      const one = r.plans.find((p) => p.source === source && p.units === 1);
      if (!one) continue;
      const ratios = r.plans.filter((p) => p.source === source && p.units > 1).map((p) => `${p.units} units in ${p.processes} process${p.processes > 1 ? 'es' : ''} ${fmt(p.objectsPerS / one.objectsPerS, 2)}×`);
      out.push(`planning ratios (${source}, ${fmt(r.objects)}): ${ratios.join(', ')}`);
    }
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

