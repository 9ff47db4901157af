/**
 * @siglip-batch/model — SigLIP on onnxruntime-node, exactly as Hugging Face transformers
 * computes it: model directories, image preprocessing, tokenizer, ONNX sessions on their own
 * thread, label scores. Knows nothing of queues, S3 or the job contract.
 */
export { SiglipModel, availableExecutionProviders } from './siglip-session';
export { loadModelDir, SIDECAR_FILE, type SiglipModelInfo } from './siglip-config';
export { MODEL_VARIANTS, type ModelVariant } from './model-options';
export type { InferenceFaults } from './inference-protocol';
export {
  ImagePreprocessor,
  allocatePixelBatch,
  DEFAULT_MAX_PIXELS,
  type ImagePreprocessConfig,
  type ImagePreprocessorOptions,
  type ResizedImage,
} from './image-preprocessor';
export { PreprocessPool, defaultPreprocessThreads } from './preprocess-pool';
export { decodeMode, describeDecodeMode, scaledDecodeFactor, DECODE_MODES, DEFAULT_REDUCING_GAP, type DecodeMode } from './decode-mode';
export { assertPixelLimit, MAX_PIXELS_CEILING } from './image-size-limits';
export { loadTokenizer } from './load-tokenizer';
export { FAMILY_NAMES } from './model-family';
export { buildLabelSet, LabelScorer, DEFAULT_TEMPLATE, type LabelInput } from './label-scorer';
export { computeContentHash } from './content-hash';
export { ImageError } from './image-error';
export { InferenceOutOfMemoryError } from './inference-out-of-memory-error';
