import { availableParallelism } from 'node:os';
import { z } from 'zod';
import type { DecodeMode } from './decode-mode';
import { builtOnce } from './model-dir-files';
import type { InferenceFaults } from './inference-protocol';

/** Where inference runs. */
export type Device = { readonly kind: 'cpu' } | { readonly kind: 'cuda'; readonly deviceId: number };

/** Which ONNX files of a model directory are used: `*.onnx`, `*_fp16.onnx` or `*_quantized.onnx`. */
export const MODEL_VARIANTS = ['fp32', 'fp16', 'quantized'] as const;
export type ModelVariant = (typeof MODEL_VARIANTS)[number];

/** ONNX Runtime graph optimisation levels. */
export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

/** Options of `SiglipModel.load`. */
export interface SiglipModelOptions {
  /**
   * `cpu`, `cuda` (device 0) or `cuda:N`. A CUDA device that cannot be used is an error,
   * never a silent fallback to the CPU.
   * @defaultValue 'cpu'
   */
  readonly device?: string;
  /**
   * Model files to use: `fp32` (`onnx/vision_model.onnx` …), `fp16` (`*_fp16.onnx`) or
   * `quantized` (`*_quantized.onnx`).
   * @defaultValue 'fp32'
   */
  readonly variant?: ModelVariant;
  /**
   * ONNX Runtime intra-op threads (per session). On a GPU this is the host-side work only.
   * @defaultValue the machine's available parallelism
   */
  readonly intraOpThreads?: number;
  /**
   * ONNX Runtime graph optimisation level.
   * @defaultValue 'all'
   */
  readonly graphOptimizationLevel?: GraphOptimizationLevel;
  /**
   * Recompute the directory's content hash and refuse a directory whose sidecar hash does
   * not match. Turning it off skips reading every weight file at start (the sidecar's hash
   * is then trusted as is).
   * @defaultValue true
   */
  readonly verifyContentHash?: boolean;
  /**
   * The towers to create sessions for. A text-only or image-only user (e.g. `search`) loads one:
   * half the memory and load time. Embedding with a tower not loaded throws.
   * @defaultValue ['vision', 'text']
   */
  readonly towers?: readonly ('vision' | 'text')[];
  /**
   * Largest image (width × height) the preprocessor decodes; larger ones fail with
   * `too_large_pixels` before decoding.
   * @defaultValue 100_000_000
   */
  readonly maxPixels?: number;
  /**
   * How `preprocessor` decodes images: exact (as PIL), or fast (scaled JPEG/WebP decoding, see `DecodeMode`).
   * @defaultValue `{ mode: 'exact' }`
   */
  readonly decode?: DecodeMode;
  /**
   * Lower-case text before tokenising. `false` reproduces a tokenizer that does not: for
   * SigLIP 2, transformers' `GemmaTokenizer` (which its checkpoints name) instead of
   * `Siglip2Tokenizer`.
   * @defaultValue the model's training (SigLIP 2: true; SigLIP: `tokenizer_config.json`'s `do_lower_case`, else true)
   */
  readonly lowercase?: boolean;
  /**
   * Test seams: a slow or broken model faked on the inference thread (the fault suite). Never
   * set in production.
   */
  readonly faults?: InferenceFaults;
}

/** Options after validation and defaults. */
export interface ResolvedModelOptions {
  readonly device: Device;
  readonly deviceName: string;
  readonly variant: ModelVariant;
  readonly intraOpThreads: number;
  readonly graphOptimizationLevel: GraphOptimizationLevel;
  readonly verifyContentHash: boolean;
  readonly towers: readonly ('vision' | 'text')[];
  readonly maxPixels: number;
  readonly decode: DecodeMode;
  /** `undefined`: the model's own default. */
  readonly lowercase: boolean | undefined;
  readonly faults: InferenceFaults | undefined;
}

const DEVICE = /^(cpu|cuda)(?::(\d+))?$/;

/** Parses `cpu`, `cuda` or `cuda:N`; throws a message naming the accepted forms otherwise. */
export function parseDevice(text: string): Device {
  const match = DEVICE.exec(text.trim());
  if (!match || (match[1] === 'cpu' && match[2] !== undefined)) {
    throw new Error(`unknown device "${text}": use cpu, cuda or cuda:N`);
  }
  if (match[1] === 'cpu') return { kind: 'cpu' };
  return { kind: 'cuda', deviceId: match[2] === undefined ? 0 : Number(match[2]) };
}

export function formatDevice(device: Device): string {
  return device.kind === 'cpu' ? 'cpu' : `cuda:${device.deviceId}`;
}

const optionsSchema = builtOnce(() =>
  z.object({
    device: z
      .string()
      .default('cpu')
      .superRefine((value, ctx) => {
        try {
          parseDevice(value);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
        }
      }),
    variant: z.enum(MODEL_VARIANTS).default('fp32'),
    intraOpThreads: z.number().int().min(1).max(1024).optional(),
    graphOptimizationLevel: z.enum(['disabled', 'basic', 'extended', 'all']).default('all'),
    verifyContentHash: z.boolean().default(true),
    towers: z
      .array(z.enum(['vision', 'text']))
      .min(1, 'name at least one tower (vision, text)')
      .refine((towers) => new Set(towers).size === towers.length, 'a tower is named twice')
      .default(['vision', 'text']),
    maxPixels: z.number().int().min(1).default(100_000_000),
    decode: z
      .discriminatedUnion('mode', [z.object({ mode: z.literal('exact') }), z.object({ mode: z.literal('fast'), reducingGap: z.number().min(1) })])
      .default({ mode: 'exact' }),
    lowercase: z.boolean().optional(),
    faults: z.object({ visionDelayMs: z.number().int().min(0).optional(), visionError: z.string().optional() }).optional(),
  }),
);

/**
 * Validates options and applies defaults. Every problem is returned (not thrown one by one),
 * so that `SiglipModel.load` can report them with the model directory's problems.
 */
export function resolveModelOptions(options: SiglipModelOptions): { options?: ResolvedModelOptions; problems: string[] } {
  const parsed = optionsSchema().safeParse(options);
  if (!parsed.success) {
    return { problems: parsed.error.issues.map((issue) => `option ${issue.path.join('.') || '(options)'}: ${issue.message}`) };
  }
  const value = parsed.data;
  const device = parseDevice(value.device);
  return {
    problems: [],
    options: {
      device,
      deviceName: formatDevice(device),
      variant: value.variant,
      intraOpThreads: value.intraOpThreads ?? Math.max(1, availableParallelism()),
      graphOptimizationLevel: value.graphOptimizationLevel,
      verifyContentHash: value.verifyContentHash,
      towers: value.towers,
      maxPixels: value.maxPixels,
      decode: value.decode,
      lowercase: value.lowercase,
      faults: value.faults,
    },
  };
}
