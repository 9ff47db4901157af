/**
 * Memory figures for the fault and soak scenarios (issue 6): a process's resident set from
 * /proc (Linux only), a sampler that records it over a run, and Redis's own accounting.
 *
 *   const sampler = startRssSampler(worker.child.pid!);
 *   … run …
 *   const { peakRssBytes, hwmBytes } = sampler.stop();
 *   expect(Math.max(peakRssBytes, hwmBytes)).toBeLessThan(500 * MiB);
 */
import { readdirSync, readFileSync } from 'node:fs';

export const MiB = 1024 * 1024;

export interface RssSample {
  /** VmRSS: resident set now. */
  rssBytes: number;
  /** VmHWM: the kernel's high-water mark of the resident set over the process's life. */
  hwmBytes: number;
}

/** The resident set of `pid` from /proc/<pid>/status, or undefined when it has gone. */
export function sampleRss(pid: number): RssSample | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = (field: string): number | undefined => {
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  };
  const rss = kib('VmRSS');
  // A zombie (exited, not yet reaped) has no memory lines left.
  if (rss === undefined) return undefined;
  return { rssBytes: rss, hwmBytes: kib('VmHWM') ?? rss };
}

/** Pids of every live descendant of `pid` (children, grandchildren …), from /proc/<n>/stat. */
export function descendantPids(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // `pid (comm) state ppid …`; comm may itself contain spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const found: number[] = [];
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length > 0) {
    const next = queue.shift()!;
    found.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return found;
}

export interface RssSamplerOptions {
  /** @defaultValue 200 */
  intervalMs?: number;
  /** Add the resident sets of the process's descendants to its own. @defaultValue false */
  includeChildren?: boolean;
}

export interface TimedRss {
  /** Milliseconds since the sampler started. */
  atMs: number;
  rssBytes: number;
}

export interface RssSummary {
  pid: number;
  samples: TimedRss[];
  /** The largest sampled resident set (summed over the tree with `includeChildren`). */
  peakRssBytes: number;
  /**
   * The largest VmHWM seen of any one process sampled. It catches a spike between two
   * samples, and survives until the last sample before the process exits.
   */
  hwmBytes: number;
  firstRssBytes: number | undefined;
  lastRssBytes: number | undefined;
}

export interface RssSampler {
  /** The summary so far, without stopping. */
  summary(): RssSummary;
  /** Takes a last sample and stops. */
  stop(): RssSummary;
}

/** Samples the resident set of `pid` every `intervalMs` until stopped (or the process ends). */
export function startRssSampler(pid: number, options: RssSamplerOptions = {}): RssSampler {
  const started = Date.now();
  const samples: TimedRss[] = [];
  let peakRssBytes = 0;
  let hwmBytes = 0;
  const sample = (): void => {
    const pids = options.includeChildren ? [pid, ...descendantPids(pid)] : [pid];
    let total = 0;
    let seen = false;
    for (const one of pids) {
      const rss = sampleRss(one);
      if (!rss) continue;
      seen = true;
      total += rss.rssBytes;
      hwmBytes = Math.max(hwmBytes, rss.hwmBytes);
    }
    if (!seen) return;
    samples.push({ atMs: Date.now() - started, rssBytes: total });
    peakRssBytes = Math.max(peakRssBytes, total);
  };
  sample();
  const timer = setInterval(sample, options.intervalMs ?? 200);
  // Sampling must never keep a test process alive on its own.
  timer.unref();
  const summary = (): RssSummary => ({
    pid,
    samples: [...samples],
    peakRssBytes,
    hwmBytes,
    firstRssBytes: samples[0]?.rssBytes,
    lastRssBytes: samples.at(-1)?.rssBytes,
  });
  return {
    summary,
    stop() {
      clearInterval(timer);
      sample();
      return summary();
    },
  };
}

/**
 * Growth of the resident set after warm-up, for soak runs: the median of the last `windowMs`
 * of samples over the median of the first `windowMs` after `warmupMs`, minus one (0.1 = +10 %).
 * Medians, so that one sample taken just before a garbage collection does not decide it.
 */
export function rssGrowthAfterWarmup(samples: TimedRss[], warmupMs: number, windowMs = 10_000): number {
  const after = samples.filter((s) => s.atMs >= warmupMs);
  if (after.length < 2) throw new Error(`not enough samples after a warm-up of ${warmupMs} ms (${after.length})`);
  const start = after[0]!.atMs;
  const end = after.at(-1)!.atMs;
  const first = after.filter((s) => s.atMs <= start + windowMs);
  const last = after.filter((s) => s.atMs >= end - windowMs);
  return median(last.map((s) => s.rssBytes)) / median(first.map((s) => s.rssBytes)) - 1;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** `INFO` output as `field → value` (section headers and blank lines dropped). */
export function parseRedisInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

export interface RedisMemory {
  usedMemory: number;
  usedMemoryPeak: number;
  usedMemoryRss: number;
  /** 0 = no limit. */
  maxmemory: number;
  maxmemoryPolicy: string;
}

/** Anything that answers `INFO <section>` like ioredis does. */
export interface InfoSource {
  info(section: string): Promise<string>;
}

/** Redis's own memory accounting, from `INFO memory`. */
export async function redisUsedMemory(redis: InfoSource): Promise<RedisMemory> {
  const info = parseRedisInfo(await redis.info('memory'));
  const number = (field: string): number => {
    const value = Number(info[field]);
    if (!Number.isFinite(value)) throw new Error(`INFO memory has no numeric ${field}`);
    return value;
  };
  return {
    usedMemory: number('used_memory'),
    usedMemoryPeak: number('used_memory_peak'),
    usedMemoryRss: number('used_memory_rss'),
    maxmemory: number('maxmemory'),
    maxmemoryPolicy: info['maxmemory_policy'] ?? 'unknown',
  };
}
