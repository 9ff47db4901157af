/**
 * One measured process of the scale bench: `plan` (the producer), `complete` (the synthetic shard
 * completer, not measured), `finalize`, `index` or `latest`, each in a process of its own so that
 * its peak RSS (VmHWM) is its own. Prints one JSON line: wall time, peak RSS, store requests and
 * bytes written (counted around the output store), and what the phase returned.
 *
 *   node --import tsx bench/scale/phase.ts '<json PhaseArgs>'
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { getHeapSpaceStatistics } from 'node:v8';
import { Redis } from 'ioredis';
import { LocalObjectStore } from '@siglip-batch/io';
import { openRunFolder } from '@siglip-batch/run-format';
import { countingStore, emptyCounts } from './counting-store';
import { buildSpec, capabilities, finalize, latest, planAndEnqueue, updateIndex } from './real-code';
import { completeRun } from './synthetic-completer';

export interface PhaseArgs {
  phase: 'baseline' | 'plan' | 'complete' | 'finalize' | 'index' | 'latest';
  /** Output root (a local directory). */
  root: string;
  runId: string;
  source?: string;
  incremental?: boolean;
  units?: number;
  /** `plan`: units this process plans at once (default: `units`). */
  planners?: number;
  endpoint: string;
  redisUrl: string;
  prefix: string;
  concurrency?: number;
}

export interface PhaseResult {
  phase: string;
  /** Epoch ms when the measured work started (phases run side by side are timed from the first). */
  startedAtMs: number;
  ms: number;
  /** CPU time of this process (user + system), ms. */
  cpuMs: number;
  peakRssBytes: number;
  counts: ReturnType<typeof emptyCounts>;
  /**
   * The largest value of each part of the process's memory, sampled every {@link SAMPLE_MS}
   * (bytes): V8's young generation (`newSpace`: both semi-spaces and new large objects), old
   * generation (`oldSpace`: old, code, large-object spaces), buffers outside the heap
   * (`external`, of which `arrayBuffers`), and the RSS not in any of them (`otherRss`: wasm
   * memory, code, the runtime's own, freed memory malloc keeps), of which `wasm` (parquet-wasm's
   * memory, which never shrinks).
   */
  memory: MemoryPeaks;
  result: unknown;
}

export interface MemoryPeaks {
  newSpace: number;
  oldSpace: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  otherRss: number;
  wasm: number;
}

const require = createRequire(import.meta.url);

/** The size of parquet-wasm's memory, 0 until the process has loaded it (never loaded here). */
function wasmBytes(): number {
  const loaded = require.cache[require.resolve('parquet-wasm')]?.exports as { wasmMemory?: () => { buffer: ArrayBuffer } } | undefined;
  return loaded?.wasmMemory?.().buffer.byteLength ?? 0;
}

const SAMPLE_MS = 100;

/** Samples the parts of the process's memory until stopped; returns each one's largest value. */
function sampleMemory(): () => MemoryPeaks {
  const peaks: MemoryPeaks = { newSpace: 0, oldSpace: 0, heapUsed: 0, external: 0, arrayBuffers: 0, otherRss: 0, wasm: 0 };
  const sample = () => {
    let newSpace = 0;
    let oldSpace = 0;
    for (const space of getHeapSpaceStatistics()) {
      if (space.space_name.startsWith('new_')) newSpace += space.space_size;
      else oldSpace += space.space_size;
    }
    const usage = process.memoryUsage();
    peaks.newSpace = Math.max(peaks.newSpace, newSpace);
    peaks.oldSpace = Math.max(peaks.oldSpace, oldSpace);
    peaks.heapUsed = Math.max(peaks.heapUsed, usage.heapUsed);
    peaks.external = Math.max(peaks.external, usage.external);
    peaks.arrayBuffers = Math.max(peaks.arrayBuffers, usage.arrayBuffers);
    peaks.otherRss = Math.max(peaks.otherRss, usage.rss - usage.heapTotal - usage.external);
    peaks.wasm = Math.max(peaks.wasm, wasmBytes());
  };
  const timer = setInterval(sample, SAMPLE_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    sample();
    return peaks;
  };
}

function peakRss(): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]!) as PhaseArgs;
  const counts = emptyCounts();
  const store = countingStore(new LocalObjectStore(args.root), counts);
  const output = { store, prefix: '' };
  const folder = openRunFolder({ output: output, runId: args.runId });
  const caps = capabilities();
  const s3 = { endpoint: args.endpoint, maxAttempts: 3 };
  const redis = new Redis(args.redisUrl, { maxRetriesPerRequest: null, lazyConnect: false });
  const stopSampling = sampleMemory();
  const startedAtMs = Date.now();
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  let result: unknown;
  try {
    if (args.phase === 'baseline') {
      // The same modules loaded, nothing done: what every measured process costs before it works.
      result = { pid: process.pid };
    } else if (args.phase === 'plan') {
      const spec = buildSpec({ runId: args.runId, source: args.source!, output: store.uriOf(''), incremental: args.incremental ?? false });
      result = await planAndEnqueue({ spec, folder, redis, prefix: args.prefix, s3, units: args.units ?? 1, planners: args.planners ?? args.units ?? 1 });
    } else {
      const spec = await folder.readRunSpec();
      if (!spec) throw new Error(`no run spec in ${folder.uriOf('')}`);
      if (args.phase === 'complete') result = await completeRun({ spec, folder, redis, prefix: args.prefix, concurrency: args.concurrency ?? 4 });
      else if (args.phase === 'finalize') {
        const manifest = await finalize(folder, spec, caps.separateIndexUpdate);
        result = { shards: manifest.shards, counts: manifest.counts };
      } else if (args.phase === 'index') await updateIndex(folder, output);
      else result = await latest(output);
    }
  } finally {
    redis.disconnect();
  }
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  const memory = stopSampling();
  const out: PhaseResult = { phase: args.phase, startedAtMs, ms, cpuMs: (cpu.user + cpu.system) / 1000, peakRssBytes: peakRss(), counts, memory, result };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
