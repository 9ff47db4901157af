/** Messages between `SiglipModel` (main thread) and `inference.thread.ts` (ONNX sessions). */

export type Tower = 'vision' | 'text';

/** What the thread needs to create its sessions (its first message, `init`): one per tower given a path. */
export interface InferenceThreadInit {
  readonly visionPath?: string;
  readonly textPath?: string;
  readonly device: { readonly kind: 'cpu' } | { readonly kind: 'cuda'; readonly deviceId: number };
  readonly intraOpThreads: number;
  readonly graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
  /** Width every pooled output must have. */
  readonly embedDim: number;
  /**
   * The image processor's normalisation as 3 × 256 float32 lookups (R, G, B; `normalizationTables`),
   * for vision batches sent resized but not normalised (`run` with `resized`).
   */
  readonly normalization?: Float32Array;
  /** Test seams (see {@link InferenceFaults}); absent in production. */
  readonly faults?: InferenceFaults;
}

/**
 * Faults the inference thread can be told to fake, for the fault suite: a slow model and a
 * model that loads but cannot run. Passed as an option by whoever loads the model (only the
 * worker's entry point turns environment variables into them); never set in production.
 */
export interface InferenceFaults {
  /** Block the inference thread this long before each vision batch, as a slow `session.run` does. */
  readonly visionDelayMs?: number;
  /** Make every vision batch throw this message, as a model that loads but cannot run does. */
  readonly visionError?: string;
}

/** An input or output as ONNX Runtime reports it. */
export interface ValueDescription {
  readonly name: string;
  readonly type: string;
  readonly shape: ReadonlyArray<number | string>;
}

export interface SessionDescription {
  readonly inputs: readonly ValueDescription[];
  readonly outputs: readonly ValueDescription[];
}

export type ToThread =
  | { readonly type: 'init'; readonly init: InferenceThreadInit }
  | {
      readonly type: 'run';
      readonly id: number;
      readonly tower: Tower;
      /**
       * float32 pixels (vision), `count × H × W × 3` uint8 RGB (vision with `resized`) or int64 ids
       * (text), transferred.
       */
      readonly buffer: ArrayBuffer;
      /** The model input's dims: `[count, 3, H, W]` for vision, also when `resized`. */
      readonly dims: readonly number[];
      /** The vision batch is resized uint8 RGB, to normalise through `init.normalization` here. */
      readonly resized?: boolean;
    }
  | { readonly type: 'close' };

export interface ErrorPayload {
  readonly name: string;
  readonly message: string;
  /** ORT failed to allocate memory. */
  readonly outOfMemory: boolean;
}

export type FromThread =
  | { readonly type: 'ready'; readonly vision?: SessionDescription; readonly text?: SessionDescription }
  | { readonly type: 'init-error'; readonly error: ErrorPayload; readonly deviceFailure: boolean }
  | {
      readonly type: 'result';
      readonly id: number;
      /** `count × embedDim` float32, L2-normalised, transferred. */
      readonly buffer: ArrayBuffer;
    }
  | { readonly type: 'error'; readonly id: number; readonly error: ErrorPayload }
  | { readonly type: 'closed' };
