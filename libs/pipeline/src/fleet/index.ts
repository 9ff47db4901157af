export * from './model-cache';
export * from './rate-limiter-unavailable-error';
export * from './s3-rate-limiter';
