/** The worker's command-line options, as commander parses them (`program.ts`) and `runWorker` takes them. */
export interface WorkerCliOptions {
  model: string;
  device: string;
  variant: string;
  batchSize: number;
  concurrency: number;
  fetchConcurrency: number;
  decodeConcurrency: number;
  threads?: number;
  /** This worker's pixel ceiling: a run's own limit applies only below it. */
  maxPixels: number;
  allow: string[];
  prefix: string;
  redisUrl?: string;
  s3Endpoint?: string;
  /** AWS region of S3; the SDK's chain (AWS_REGION, AWS_DEFAULT_REGION, the profile) when unset. */
  region?: string;
  shutdownTimeout: number;
  lockDuration: number;
  gpus?: string;
  json: boolean;
  /** Port of `/metrics` (Prometheus) and `/healthz`; no server when absent. */
  metricsPort?: number;
  /** Fleet-wide S3 requests per second (validated in runWorker, with the other problems). */
  s3Rps?: string;
  s3Burst?: string;
  s3RpsKey: string;
}
