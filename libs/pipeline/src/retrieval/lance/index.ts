export * from './lance-target';
export * from './lance-info';
export * from './lance-index-params';
export * from './lance-rows';
export * from './lance-build';
export * from './lance-search';
export * from './lance-latest';
