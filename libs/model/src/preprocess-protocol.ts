import type { DecodeMode } from './decode-mode';
import type { ImageErrorCode } from './image-error';
import type { ImagePreprocessConfig } from './image-preprocessor';

/** `workerData` of a preprocessing thread. */
export interface PreprocessThreadInit {
  config: ImagePreprocessConfig;
}

/** Main thread → preprocessing thread. `bytes` is transferred. */
export type ToPreprocessThread =
  | { type: 'run'; id: number; bytes: ArrayBuffer; maxPixels: number; decode: DecodeMode }
  | { type: 'close' };

/** Preprocessing thread → main thread. `pixels` (`3 × H × W` float32) is transferred. */
export type FromPreprocessThread =
  | { type: 'result'; id: number; pixels: ArrayBuffer; width: number; height: number }
  | { type: 'image-error'; id: number; code: ImageErrorCode; message: string };
