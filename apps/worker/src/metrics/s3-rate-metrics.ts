import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { RateLimiterEvent } from '@siglip-batch/io';

/**
 * The fleet S3 rate limiter as seen by one worker (`--s3-rps`): tokens granted, how many of
 * them had to wait and for how long, the limiter's "not yet" answers, and requests failed
 * because Redis did not answer.
 */
export class S3RateMetrics {
  private readonly grants: Counter;
  private readonly denials: Counter;
  private readonly waits: Histogram;
  private readonly unavailable: Counter;

  constructor(registry: Registry, limit: { rps: number; burst: number }) {
    const registers = [registry];
    this.grants = new Counter({ name: 'siglip_batch_s3_rate_limit_grants_total', help: 'S3 request tokens granted to this worker by the fleet rate limiter', registers });
    this.denials = new Counter({ name: 'siglip_batch_s3_rate_limit_denials_total', help: 'Token requests the fleet rate limiter answered with "wait"', registers });
    this.waits = new Histogram({
      name: 'siglip_batch_s3_rate_limit_wait_seconds',
      help: 'Time an S3 request waited for its token, for requests that had to wait',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.unavailable = new Counter({ name: 'siglip_batch_s3_rate_limit_redis_unavailable_total', help: 'Times the rate limiter lost Redis', registers });
    new Gauge({ name: 'siglip_batch_s3_rate_limit_rps', help: 'The configured fleet budget of S3 requests per second', registers }).set(limit.rps);
    new Gauge({ name: 'siglip_batch_s3_rate_limit_burst', help: 'The configured burst (tokens the fleet bucket holds)', registers }).set(limit.burst);
  }

  record(event: RateLimiterEvent): void {
    if (event.type === 'granted') {
      this.grants.inc();
      if (event.denials > 0) {
        this.denials.inc(event.denials);
        this.waits.observe(event.waitedMs / 1000);
      }
    } else if (event.type === 'unavailable') {
      this.unavailable.inc();
    }
  }
}
