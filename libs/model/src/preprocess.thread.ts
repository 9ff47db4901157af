/**
 * A preprocessing thread: sharp decode + our Pillow resampler + normalisation, off the main
 * thread. The resampler is synchronous JavaScript (~150 ms for a 12 MP image), so on the main
 * thread it would block the event loop and use one core only; a few of these threads spread it
 * over the cores. Bytes arrive and pixels leave as transferred buffers (no copies).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { describeDecodeMode, type DecodeMode } from './decode-mode';
import { ImageError } from './image-error';
import { ImagePreprocessor, loadSharp } from './image-preprocessor';
import type { FromPreprocessThread, PreprocessOutput, PreprocessThreadInit, ToPreprocessThread } from './preprocess-protocol';

const init = workerData as PreprocessThreadInit;
const port = parentPort!;
// One preprocessor per pixel limit and decode mode (runs may set their own).
const preprocessors = new Map<string, ImagePreprocessor>();
// sharp now, while the process is starting (its main thread loads its own modules meanwhile),
// rather than at the first image.
loadSharp();

function preprocessorFor(maxPixels: number, decode: DecodeMode): ImagePreprocessor {
  const key = `${maxPixels} ${describeDecodeMode(decode)}`;
  let preprocessor = preprocessors.get(key);
  if (!preprocessor) {
    preprocessor = new ImagePreprocessor(init.config, { maxPixels, decode });
    preprocessors.set(key, preprocessor);
  }
  return preprocessor;
}

async function run(id: number, bytes: ArrayBuffer, maxPixels: number, decode: DecodeMode, output: PreprocessOutput): Promise<void> {
  let reply: FromPreprocessThread;
  try {
    const preprocessor = preprocessorFor(maxPixels, decode);
    const input = new Uint8Array(bytes);
    const image = output === 'resized' ? await preprocessor.preprocessResized(input) : await preprocessor.preprocess(input);
    const { width, height } = image;
    const pixels = 'rgb' in image ? image.rgb : image.pixels;
    // Transferred whole: a view into a larger buffer is copied out first.
    const own = pixels.byteOffset === 0 && pixels.byteLength === pixels.buffer.byteLength ? pixels : pixels.slice();
    reply = { type: 'result', id, pixels: own.buffer as ArrayBuffer, width, height };
    port.postMessage(reply, [reply.pixels]);
    return;
  } catch (error) {
    // Anything thrown while preprocessing one image is that image's failure (a row), whatever it is.
    reply =
      error instanceof ImageError
        ? { type: 'image-error', id, code: error.code, message: error.message }
        : { type: 'image-error', id, code: 'preprocess_failed', message: `preprocessing failed: ${error instanceof Error ? error.message : String(error)}` };
  }
  port.postMessage(reply);
}

port.on('message', (message: ToPreprocessThread) => {
  if (message.type === 'close') {
    port.close();
    return;
  }
  void run(message.id, message.bytes, message.maxPixels, message.decode, message.output);
});
