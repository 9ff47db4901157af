export * from './s3-tag-merge';
export * from './s3-tag-writer';
