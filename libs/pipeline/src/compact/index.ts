export * from './compaction-plan';
export * from './run-compactor';
export * from './run-file-map';
export * from './run-not-finalised-error';
