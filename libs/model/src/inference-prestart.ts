import { Worker } from 'node:worker_threads';
import { turnOffOrtTelemetryUnlessSet } from './ort-telemetry';
import { threadEntry } from './thread-entry';

/**
 * An inference thread started before its model is known: it starts a Node environment and loads
 * ONNX Runtime's module while this thread is still loading the command's own modules and reading
 * the model directory, then waits for the message telling it which sessions to create
 * (`SiglipModel.load` sends it). One at most per process, adopted by the next `SiglipModel.load`.
 */
interface Prestarted {
  readonly worker: Worker;
  /** Set when the thread failed or exited before it was adopted. */
  failure?: Error;
  readonly onError: (error: Error) => void;
  readonly onExit: (code: number) => void;
}

let prestarted: Prestarted | undefined;

/**
 * Starts the inference thread now, for a command that will load a model (`embed`): ~0.2–0.4 s of
 * its start-up then overlaps this thread's module loading instead of following it. The thread
 * does not keep the process alive; unadopted, it ends with the process. Safe to call more than
 * once (one thread; the same one is returned). Failures are reported by the `SiglipModel.load`
 * that adopts it, as a thread started there would report them.
 */
export function prestartInferenceThread(): Worker {
  if (prestarted) return prestarted.worker;
  turnOffOrtTelemetryUnlessSet();
  const worker = new Worker(threadEntry('inference'));
  const entry: Prestarted = {
    worker,
    onError: (error) => {
      entry.failure ??= error;
    },
    onExit: (code) => {
      entry.failure ??= new Error(`the inference thread exited during start (code ${code})`);
    },
  };
  worker.on('error', entry.onError);
  worker.on('exit', entry.onExit);
  worker.unref();
  prestarted = entry;
  return worker;
}

/**
 * True while a prestarted thread has not been adopted: it may still be inside ONNX Runtime's
 * native start-up, and a `process.exit()` then can abort the process (the addon throws while its
 * thread is torn down). A command that ends without loading a model (`embed --print-config`)
 * leaves it so; the process must then end by itself.
 */
export function inferenceThreadPending(): boolean {
  return prestarted !== undefined;
}

/**
 * The prestarted thread, if any, handed over once (the caller owns it from then on): its
 * listeners are removed, and a failure it had meanwhile is returned instead of the worker.
 */
export function takePrestartedInferenceThread(): Worker | Error | undefined {
  const entry = prestarted;
  if (!entry) return undefined;
  prestarted = undefined;
  entry.worker.off('error', entry.onError);
  entry.worker.off('exit', entry.onExit);
  return entry.failure ?? entry.worker;
}
