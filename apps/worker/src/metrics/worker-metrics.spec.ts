import { describe, expect, it } from 'vitest';
import { startMetricsServer, workerHealthProblem } from './metrics-server';
import { WorkerMetrics } from './worker-metrics';

function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('WorkerMetrics', () => {
  it('counts objects by status and error code only for shards marked done first', async () => {
    const metrics = new WorkerMetrics({ processMetrics: false });
    metrics.setInfo({ worker: 'h:1', queue: 'siglip-0123456789abcdef-fp32', model: 'tiny', variant: 'fp32', device: 'cpu' });
    const timer = metrics.shardStarted(Date.now() - 2_000);
    timer.batch({ images: 16, inferMs: 40 });
    timer.batch({ images: 4, inferMs: 10 });
    metrics.shardCompleted('done', { ok: 20, error: 3, errorCodes: { not_found: 1, decode_failed: 2 } });
    timer.end();
    timer.end();
    metrics.shardCompleted('done', { ok: 4, error: 0, errorCodes: {}, s3Tags: { tagged: 2, full: 1, failed: 1 } });
    metrics.shardCompleted('duplicate', null);
    metrics.shardFailed(false);
    const { body, contentType } = await metrics.render();
    expect(contentType).toMatch(/^text\/plain/);
    expect(sample(body, 'siglip_batch_objects_total', '{status="ok",error_code=""}')).toBe(24);
    expect(sample(body, 'siglip_batch_s3_tagged_objects_total', '{result="tagged"}')).toBe(2);
    expect(sample(body, 'siglip_batch_s3_tagged_objects_total', '{result="full"}')).toBe(1);
    expect(sample(body, 'siglip_batch_s3_tagged_objects_total', '{result="failed"}')).toBe(1);
    expect(sample(body, 'siglip_batch_objects_total', '{status="error",error_code="decode_failed"}')).toBe(2);
    expect(sample(body, 'siglip_batch_objects_total', '{status="error",error_code="not_found"}')).toBe(1);
    expect(sample(body, 'siglip_batch_inferred_images_total')).toBe(20);
    expect(sample(body, 'siglip_batch_inference_seconds_count')).toBe(2);
    expect(sample(body, 'siglip_batch_inference_seconds_sum')).toBeCloseTo(0.05, 6);
    expect(sample(body, 'siglip_batch_batch_latency_seconds_count')).toBe(2);
    expect(sample(body, 'siglip_batch_queue_wait_seconds_count')).toBe(1);
    expect(sample(body, 'siglip_batch_queue_wait_seconds_sum')).toBeGreaterThanOrEqual(2);
    expect(sample(body, 'siglip_batch_shard_duration_seconds_count')).toBe(1);
    expect(sample(body, 'siglip_batch_active_shards')).toBe(0);
    expect(sample(body, 'siglip_batch_shards_processed_total', '{outcome="done"}')).toBe(2);
    expect(sample(body, 'siglip_batch_shards_processed_total', '{outcome="duplicate"}')).toBe(1);
    expect(sample(body, 'siglip_batch_shards_failed_total', '{final="false"}')).toBe(1);
    expect(body).toContain('siglip_batch_worker_info{worker="h:1",queue="siglip-0123456789abcdef-fp32",model="tiny",variant="fp32",device="cpu"} 1');
  });
});

describe('metrics server', () => {
  it('serves /metrics, /healthz (200, then 503 with the reason) and 404 elsewhere', async () => {
    let problem: string | null = null;
    const server = await startMetricsServer({
      port: 0,
      host: '127.0.0.1',
      metrics: async () => ({ contentType: 'text/plain; version=0.0.4', body: 'x 1\n' }),
      unhealthy: () => problem,
    });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      expect(await (await fetch(`${base}/metrics`)).text()).toBe('x 1\n');
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      problem = 'shutting down';
      const unhealthy = await fetch(`${base}/healthz`);
      expect(unhealthy.status).toBe(503);
      expect(await unhealthy.text()).toContain('shutting down');
      expect((await fetch(`${base}/other`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('is healthy only while running, not stopping, with Redis ready', () => {
    expect(workerHealthProblem({ stopping: false, running: true, redisStatus: 'ready' })).toBeNull();
    expect(workerHealthProblem({ stopping: true, running: true, redisStatus: 'ready' })).toBe('shutting down');
    expect(workerHealthProblem({ stopping: false, running: false, redisStatus: 'ready' })).toBe('worker not running');
    expect(workerHealthProblem({ stopping: false, running: true, redisStatus: 'reconnecting' })).toBe('redis connection reconnecting');
  });
});
