export * from './model-cache';
