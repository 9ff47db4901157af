import type { DecodeMode } from './decode-mode';
import type { ImageErrorCode } from './image-error';
import type { ImagePreprocessConfig } from './image-preprocessor';

/** `workerData` of a preprocessing thread. */
export interface PreprocessThreadInit {
  config: ImagePreprocessConfig;
}

/**
 * What a request asks for: `normalized`, `3 × H × W` float32 pixels (`ImagePreprocessor.preprocess`);
 * `resized`, `H × W × 3` uint8 RGB (`preprocessResized`), normalised later by the inference thread.
 */
export type PreprocessOutput = 'normalized' | 'resized';

/** Main thread → preprocessing thread. `bytes` is transferred. */
export type ToPreprocessThread =
  | { type: 'run'; id: number; bytes: ArrayBuffer; maxPixels: number; decode: DecodeMode; output: PreprocessOutput }
  | { type: 'close' };

/** Preprocessing thread → main thread. `pixels` (the request's output) is transferred. */
export type FromPreprocessThread =
  | { type: 'result'; id: number; pixels: ArrayBuffer; width: number; height: number }
  | { type: 'image-error'; id: number; code: ImageErrorCode; message: string };
