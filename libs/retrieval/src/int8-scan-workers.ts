/**
 * The int8 scan of a vector cache entry, split over worker threads (one contiguous row range
 * each), started before the query is known (while the caller loads the model and embeds the
 * query). Per query, every worker reads its range of `vectors.i8` and `scales.f32` block by block
 * with positioned reads into its WASM memory, scores each block with the SIMD kernel
 * (int8-dot-kernel.ts), and keeps
 * - the k largest lower bounds â − B it has seen (a min-heap), whose smallest is a running
 *   cut-off no larger than the final one, and
 * - every row whose upper bound â + B reaches that cut-off (the candidates),
 * so that the caller can re-rank exactly (see int8-quantizer.ts for why that is exact).
 *
 * Blocks are small (1,024 rows, ~1.2 MB: they stay in the core's cache between the read and the
 * kernel). Measured on 1M × 1,152 (load ~4.5): 1,024-row blocks 300–370 ms per query, 8,192-row
 * blocks 420–530 ms, and the whole range read into memory before the query 540–740 ms (the
 * kernel then streams it from RAM, and the read itself took ~0.5 s of page faults).
 *
 * The worker body is plain JavaScript evaluated by `new Worker(…, { eval: true })`: it needs only
 * `fs` and WebAssembly, and this way it starts in ~30 ms without the tsx loader that a
 * TypeScript thread entry needs under the source checkout (~150 ms more per query), and needs no
 * entry of its own in the app bundles.
 */
import { Worker } from 'node:worker_threads';
import { int8DotModuleBytes } from './int8-dot-kernel';

export interface Int8ScanResult {
  /** Candidate rows (ascending within each worker's range) and their upper bounds â + B. */
  rows: Float64Array;
  uppers: Float64Array;
  /** k-th largest lower bound over all rows (−∞ when there are fewer than k rows). */
  cutoff: number;
  timings: Int8ScanTimings;
}

interface WorkerResult {
  rows: Float64Array;
  uppers: Float64Array;
  lowers: Float64Array;
  /** Epoch ms at which the thread started its scan. */
  startedAt: number;
  readMs: number;
  kernelMs: number;
  totalMs: number;
}

/** Where a scan's time went (the slowest thread's figures). */
export interface Int8ScanTimings {
  threads: number;
  /** From starting the threads until all were ready or the query came, whichever is later. */
  threadStartMs: number;
  /** Positioned reads of `vectors.i8` and `scales.f32`. */
  readMs: number;
  /** The SIMD dot products. */
  kernelMs: number;
  /** Everything else in the threads: bounds, the heap, candidates. */
  boundsMs: number;
}

const WORKER_SOURCE = String.raw`
const { parentPort, workerData: d } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const kernel = new WebAssembly.Instance(new WebAssembly.Module(d.wasm)).exports;
const stride = d.stride, rowsHere = d.end - d.first;
const blockRows = d.blockRows;
const blockAt = 0, outAt = blockRows * stride, queryAt = outAt + blockRows * 4;
const pages = Math.ceil((queryAt + stride * 2) / 65536) - kernel.memory.buffer.byteLength / 65536;
if (pages > 0) kernel.memory.grow(pages);
const block = new Uint8Array(kernel.memory.buffer, blockAt, blockRows * stride);
const out = new Int32Array(kernel.memory.buffer, outAt, blockRows);
const queryCodes = new Int16Array(kernel.memory.buffer, queryAt, stride);
const scales = new Float32Array(blockRows * 2);
const scaleBytes = new Uint8Array(scales.buffer);
function readFully(fd, view, position, what) {
  let done = 0;
  while (done < view.length) {
    const n = readSync(fd, view, done, view.length - done, position + done);
    if (n === 0) throw new Error(what + ' is shorter than its meta.json says');
    done += n;
  }
}
const codesFd = openSync(d.codesPath, 'r'), scalesFd = openSync(d.scalesPath, 'r');
function readBlock(first, n) {
  readFully(codesFd, block.subarray(0, n * stride), first * stride, d.codesPath);
  readFully(scalesFd, scaleBytes.subarray(0, n * 8), first * 8, d.scalesPath);
}
parentPort.postMessage({ type: 'ready' });

function scan(q) {
  const startedAt = performance.timeOrigin + performance.now();
  const K = q.k, heap = new Float64Array(K);
  let size = 0, cut = -Infinity;
  let rows = new Float64Array(1024), uppers = new Float64Array(1024), count = 0;
  let readMs = 0, kernelMs = 0;
  queryCodes.set(q.query);
  const t = q.queryScale, fixed = q.boundFixed, perError = q.boundPerRowError;
  for (let first = d.first; first < d.end; first += blockRows) {
    const n = Math.min(blockRows, d.end - first);
    const t0 = performance.now();
    readBlock(first, n);
    const t1 = performance.now();
    kernel.dots(blockAt, n, stride, queryAt, outAt);
    readMs += t1 - t0;
    kernelMs += performance.now() - t1;
    for (let r = 0; r < n; r++) {
      const approx = scales[2 * r] * t * out[r];
      const bound = fixed + perError * scales[2 * r + 1];
      const upper = approx + bound;
      if (upper < cut) continue;
      const lower = approx - bound;
      // the k largest lower bounds, in a min-heap whose root is the running cut-off
      if (size < K) {
        let i = size++;
        heap[i] = lower;
        while (i > 0) { const p = (i - 1) >> 1; if (heap[p] <= heap[i]) break; const x = heap[p]; heap[p] = heap[i]; heap[i] = x; i = p; }
        if (size === K) cut = heap[0];
      } else if (lower > heap[0]) {
        heap[0] = lower;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1, rr = l + 1; let m = i;
          if (l < K && heap[l] < heap[m]) m = l;
          if (rr < K && heap[rr] < heap[m]) m = rr;
          if (m === i) break;
          const x = heap[m]; heap[m] = heap[i]; heap[i] = x; i = m;
        }
        cut = heap[0];
      }
      if (count === rows.length) {
        let kept = 0;
        for (let i = 0; i < count; i++) if (uppers[i] >= cut) { rows[kept] = rows[i]; uppers[kept] = uppers[i]; kept++; }
        count = kept;
        if (count > rows.length / 2) {
          const r2 = new Float64Array(rows.length * 2), u2 = new Float64Array(rows.length * 2);
          r2.set(rows.subarray(0, count)); u2.set(uppers.subarray(0, count));
          rows = r2; uppers = u2;
        }
      }
      rows[count] = first + r; uppers[count] = upper; count++;
    }
  }
  let kept = 0;
  for (let i = 0; i < count; i++) if (uppers[i] >= cut) { rows[kept] = rows[i]; uppers[kept] = uppers[i]; kept++; }
  return {
    type: 'result', rows: rows.slice(0, kept), uppers: uppers.slice(0, kept), lowers: heap.slice(0, size),
    startedAt, readMs, kernelMs, totalMs: performance.timeOrigin + performance.now() - startedAt,
  };
}
parentPort.on('message', (q) => {
  if (q.type === 'close') {
    closeSync(codesFd);
    closeSync(scalesFd);
    parentPort.close();
    return;
  }
  parentPort.postMessage(scan(q));
});
`;

let wasmBytes: Uint8Array | undefined;

export interface Int8ScanPoolOptions {
  codesPath: string;
  scalesPath: string;
  rows: number;
  stride: number;
  threads: number;
  /** Rows per read. @defaultValue 1024 */
  blockRows?: number;
}

export interface Int8ScanQuery {
  /** The query's int16 codes (`stride` values). */
  query: Int16Array;
  /** t: the query's scale. */
  queryScale: number;
  /** B = boundFixed + boundPerRowError · (row's error norm). */
  boundFixed: number;
  boundPerRowError: number;
  k: number;
}

/**
 * Scan threads over one cache entry, started before the query is known.
 * Close it when done.
 */
export class Int8ScanPool {
  private constructor(
    private readonly workers: Worker[],
    private readonly ready: Promise<unknown>,
    private readonly asked: number,
  ) {}

  static start(options: Int8ScanPoolOptions): Int8ScanPool {
    wasmBytes ??= int8DotModuleBytes();
    const { rows, stride } = options;
    const blockRows = Math.max(1, Math.min(options.blockRows ?? 1024, rows || 1));
    const threads = Math.max(1, Math.min(options.threads, Math.ceil(rows / blockRows)));
    const per = Math.ceil(rows / threads);
    const asked = performance.timeOrigin + performance.now();
    const workers = Array.from(
      { length: threads },
      (_, i) =>
        new Worker(WORKER_SOURCE, {
          eval: true,
          workerData: {
            wasm: wasmBytes,
            codesPath: options.codesPath,
            scalesPath: options.scalesPath,
            first: Math.min(rows, i * per),
            end: Math.min(rows, (i + 1) * per),
            stride,
            blockRows,
          },
        }),
    );
    for (const worker of workers) {
      // Failures reach the caller through the next message it waits for (or the exit).
      worker.on('error', () => undefined);
      // Idle threads do not keep the process alive; a scan refs them while it waits.
      worker.unref();
    }
    const ready = Promise.all(workers.map((worker) => nextMessage<{ type: 'ready' }>(worker)));
    // A pool that is closed before anyone waits for it must not leave an unhandled rejection.
    ready.catch(() => undefined);
    return new Int8ScanPool(workers, ready, asked);
  }

  /** Scans all rows; returns the candidates for the exact re-rank and the cut-off they passed. */
  async scan(query: Int8ScanQuery): Promise<Int8ScanResult> {
    for (const worker of this.workers) worker.ref();
    let results: WorkerResult[];
    let readyAt: number;
    try {
      await this.ready;
      readyAt = performance.timeOrigin + performance.now();
      results = await Promise.all(
        this.workers.map((worker) => {
          const result = nextMessage<WorkerResult>(worker);
          worker.postMessage({ type: 'scan', ...query });
          return result;
        }),
      );
    } finally {
      for (const worker of this.workers) worker.unref();
    }
    const { k } = query;
    const lowers = Float64Array.from(results.flatMap((r) => Array.from(r.lowers))).sort();
    const cutoff = lowers.length >= k ? lowers[lowers.length - k]! : Number.NEGATIVE_INFINITY;
    const keptRows: number[] = [];
    const keptUppers: number[] = [];
    for (const result of results) {
      for (let i = 0; i < result.rows.length; i++) {
        if (result.uppers[i]! >= cutoff) {
          keptRows.push(result.rows[i]!);
          keptUppers.push(result.uppers[i]!);
        }
      }
    }
    const slowest = results.reduce((a, b) => (b.totalMs > a.totalMs ? b : a));
    const timings: Int8ScanTimings = {
      threads: this.workers.length,
      threadStartMs: readyAt - this.asked,
      readMs: slowest.readMs,
      kernelMs: slowest.kernelMs,
      boundsMs: slowest.totalMs - slowest.readMs - slowest.kernelMs,
    };
    return { rows: Float64Array.from(keptRows), uppers: Float64Array.from(keptUppers), cutoff, timings };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}

function nextMessage<T>(worker: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: T) => {
      cleanup();
      resolve(message);
    };
    const onError = (error: Error) => {
      cleanup();
      reject(new Error(`a search scan thread failed: ${error.message}`, { cause: error }));
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new Error(`a search scan thread exited (code ${code})`));
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}
