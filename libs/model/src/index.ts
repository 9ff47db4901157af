/**
 * @siglip-batch/model — SigLIP on onnxruntime-node, exactly as Hugging Face transformers
 * computes it: model directories, image preprocessing, tokenizer, ONNX sessions on their own
 * thread, label scores. Knows nothing of queues, S3 or the job contract.
 */
export { SiglipModel, availableExecutionProviders, toInferenceError } from './siglip-session';
export {
  loadModelDir,
  towerFile,
  SIDECAR_FILE,
  type SiglipModelInfo,
  type LoadModelDirOptions,
} from './siglip-config';
export {
  parseDevice,
  formatDevice,
  resolveModelOptions,
  MODEL_VARIANTS,
  type Device,
  type ModelVariant,
  type GraphOptimizationLevel,
  type SiglipModelOptions,
  type ResolvedModelOptions,
} from './model-options';
export type { InferenceFaults } from './inference-protocol';
export {
  ImagePreprocessor,
  allocatePixelBatch,
  DEFAULT_MAX_PIXELS,
  type ImagePreprocessConfig,
  type ImagePreprocessorOptions,
  type DecodedImage,
  type PreprocessedImage,
} from './image-preprocessor';
export { PreprocessPool, type PreprocessPoolOptions } from './preprocess-pool';
export {
  decodeMode,
  describeDecodeMode,
  scaledDecodeFactor,
  DECODE_MODES,
  DEFAULT_REDUCING_GAP,
  EXACT_DECODE,
  type DecodeMode,
} from './decode-mode';
export { assertPixelLimit, checkImageSize, DEFAULT_MAX_SIDE, MAX_PIXELS_CEILING, type ImageSizeLimits } from './image-size-limits';
export { sniffImageFormat, type ImageFormat } from './image-format';
export { resizeBicubic } from './pillow-resample';
export { SiglipTokenizer, canonicalizeText, type SiglipTokenizerOptions } from './siglip-tokenizer';
export { GemmaTokenizer, type GemmaTokenizerOptions } from './gemma-tokenizer';
export { loadTokenizer, type LoadTokenizerOptions } from './load-tokenizer';
export type { TextTokenizer, TokenizerKind, PadSide } from './text-tokenizer';
export { describeFamily, FAMILY_NAMES, type ModelFamily, type TokenizerDescription, type FamilyDescription } from './model-family';
export {
  buildLabelSet,
  applyTemplate,
  flattenPrompts,
  labelEmbeddings,
  scoreEmbeddings,
  tagsFor,
  sigmoid,
  l2NormalizeRows,
  LabelScorer,
  DEFAULT_TEMPLATE,
  DEFAULT_THRESHOLD,
  type LabelInput,
  type LabelSet,
  type LabelSetOptions,
} from './label-scorer';
export { computeContentHash, hashedFiles } from './content-hash';
export { findLogitParameters, type LogitParameters } from './logit-parameters';
export { scanOnnxModel, type OnnxGraphSummary, type OnnxValueInfo, type OnnxNode } from './onnx-graph-scan';
export { ImageError, type ImageErrorCode } from './image-error';
export { ModelLoadError } from './model-load-error';
export { DeviceUnavailableError } from './device-unavailable-error';
export { InferenceOutOfMemoryError, isOutOfMemoryMessage } from './inference-out-of-memory-error';
