export * from './index-entry';
export * from './processed-index';
export * from './incremental-listing';
export * from './incremental-filter';
export * from './latest-writer';
