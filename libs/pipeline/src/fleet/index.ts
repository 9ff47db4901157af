export * from './hub-model-cache';
export * from './hub-model-files';
export * from './hub-model-pull';
export * from './hub-model-ref';
export * from './model-cache';
export { defaultModelCacheRoot } from './model-cache-layout';
export * from './rate-limiter-unavailable-error';
export * from './s3-rate-limiter';
