export * from './top-k';
export * from './embedding-scan';
export * from './run-folder-uri';
