/**
 * The thread that owns the ONNX Runtime sessions. `session.run` blocks the thread that calls
 * it for the whole batch, so it must never be the main thread: BullMQ lock renewal and every
 * other timer would starve (architecture §4.1). The main thread transfers input buffers here and gets
 * normalised embeddings back, transferred too.
 */
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { fromFloat16Bits, toFloat16Bits } from './float16';
import { isOutOfMemoryMessage } from './inference-out-of-memory-error';
import type { ErrorPayload, FromThread, InferenceThreadInit, SessionDescription, ToThread, Tower } from './inference-protocol';
import { l2NormalizeRows } from './label-scorer';
import { ResizedBatchInput } from './resized-batch';

// What to load comes in the first message (`init`), not in `workerData`: the thread can be started
// before the model directory is even read (see `prestartInferenceThread`), loading ONNX Runtime's
// module meanwhile.
let init: InferenceThreadInit;
const port = parentPort!;

function post(message: FromThread, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

function errorPayload(error: unknown): ErrorPayload {
  const message = error instanceof Error ? error.message : String(error);
  return { name: error instanceof Error ? error.name : 'Error', message, outOfMemory: isOutOfMemoryMessage(message) };
}

function describe(session: ort.InferenceSession): SessionDescription {
  const convert = (metadata: readonly ort.InferenceSession.ValueMetadata[]) =>
    metadata.map((m) => (m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name, type: 'non-tensor', shape: [] }));
  return { inputs: convert(session.inputMetadata), outputs: convert(session.outputMetadata) };
}

function inputType(session: ort.InferenceSession): string {
  const m = session.inputMetadata[0];
  return m?.isTensor ? m.type : 'float32';
}

async function createSession(path: string): Promise<ort.InferenceSession> {
  const executionProviders: ort.InferenceSession.ExecutionProviderConfig[] =
    init.device.kind === 'cuda' ? [{ name: 'cuda', deviceId: init.device.deviceId }] : ['cpu'];
  return ort.InferenceSession.create(path, {
    executionProviders,
    intraOpNumThreads: init.intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: init.graphOptimizationLevel,
    // ONNX Runtime's intra-op threads busy-wait between operators by default. The cores they
    // spin on are the ones the preprocessing threads decode on (a GPU node's CPU feeds the GPU;
    // a CPU node shares them with the model): the tiny model cost 2.9 CPU ms per image with
    // spinning, 1.6 without, at the same wall time (bench/README.md, issue 18).
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
}

let sessions: Partial<Record<Tower, ort.InferenceSession>> | undefined;

// Test seams of the fault suite (`InferenceFaults`), given by whoever loaded the model; unset
// in production.
function faultBeforeVisionBatch(): void {
  const delayMs = init.faults?.visionDelayMs ?? 0;
  if (delayMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, delayMs);
  if (init.faults?.visionError) throw new Error(init.faults.visionError);
}

/** Frees a transferred input's memory now (ES2024 `transfer`), not at this thread's next GC. */
function freeNow(buffer: ArrayBuffer): void {
  const transferable = buffer as ArrayBuffer & { detached?: boolean; transfer?: (length: number) => ArrayBuffer };
  if (transferable.detached === false && typeof transferable.transfer === 'function') transferable.transfer(0);
}

// The input of resized batches, made here (see ResizedBatchInput): created with the first one.
let resizedInput: ResizedBatchInput | undefined;

async function run(tower: Tower, buffer: ArrayBuffer, dims: readonly number[], resized: boolean): Promise<ArrayBuffer> {
  const session = sessions?.[tower];
  if (!session) throw new Error(`the ${tower} tower was not loaded (SiglipModel.load option towers)`);
  const inputName = session.inputNames[0]!;
  let input: ort.Tensor;
  if (tower === 'text') {
    input = new ort.Tensor('int64', new BigInt64Array(buffer), dims);
  } else if (resized) {
    if (!init.normalization) throw new Error('this inference thread was started without the normalisation lookups resized batches need');
    resizedInput ??= new ResizedBatchInput(init.normalization);
    const half = inputType(session) === 'float16';
    input = new ort.Tensor(half ? 'float16' : 'float32', resizedInput.normalize(new Uint8Array(buffer), dims, half), dims);
  } else if (inputType(session) === 'float16') {
    input = new ort.Tensor('float16', toFloat16Bits(new Float32Array(buffer)), dims);
  } else {
    input = new ort.Tensor('float32', new Float32Array(buffer), dims);
  }
  if (tower === 'vision') faultBeforeVisionBatch();
  const outputs = await session.run({ [inputName]: input }, ['pooler_output']);
  // The input batch (19 MB at 32 × 224²) is not needed any more: freed now, not at a GC.
  freeNow(buffer);
  const pooled = outputs['pooler_output']!;
  const [count, width] = pooled.dims;
  if (pooled.dims.length !== 2 || count !== dims[0] || width !== init.embedDim) {
    throw new Error(`${tower} pooler_output has dims [${pooled.dims.join(', ')}], expected [${dims[0]}, ${init.embedDim}]`);
  }
  const values =
    pooled.type === 'float16'
      ? fromFloat16Bits(pooled.data as Uint16Array)
      : pooled.type === 'float32'
        ? new Float32Array(pooled.data as Float32Array)
        : undefined;
  if (!values) throw new Error(`${tower} pooler_output is ${pooled.type}, expected float32 or float16`);
  l2NormalizeRows(values, width);
  return values.buffer as ArrayBuffer;
}

let queue: Promise<void> = Promise.resolve();

port.on('message', (message: ToThread) => {
  if (message.type === 'init') {
    init = message.init;
    void createSessions();
    return;
  }
  if (message.type === 'close') {
    const open = sessions;
    sessions = undefined;
    void Promise.all([open?.vision?.release(), open?.text?.release()]).finally(() => {
      post({ type: 'closed' });
      port.close();
    });
    return;
  }
  // One batch after the other, in the order sent (resized batches share one input buffer).
  queue = queue.then(() =>
    run(message.tower, message.buffer, message.dims, message.resized === true).then(
      (buffer) => post({ type: 'result', id: message.id, buffer }, [buffer]),
      (error: unknown) => post({ type: 'error', id: message.id, error: errorPayload(error) }),
    ),
  );
});

async function createSessions(): Promise<void> {
  try {
    const vision = init.visionPath === undefined ? undefined : await createSession(init.visionPath);
    const text = init.textPath === undefined ? undefined : await createSession(init.textPath);
    sessions = { ...(vision ? { vision } : {}), ...(text ? { text } : {}) };
    post({ type: 'ready', ...(vision ? { vision: describe(vision) } : {}), ...(text ? { text: describe(text) } : {}) });
  } catch (error) {
    const payload = errorPayload(error);
    const deviceFailure = init.device.kind === 'cuda' && /cuda|provider|shared library|GPU|device/i.test(payload.message);
    post({ type: 'init-error', error: payload, deviceFailure });
  }
}
