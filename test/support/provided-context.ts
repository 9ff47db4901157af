/** Values global-setup.ts provides to every test file (`inject('s3Endpoint')`). */
declare module 'vitest' {
  export interface ProvidedContext {
    s3Endpoint: string;
    redisUrl: string;
  }
}

export {};
