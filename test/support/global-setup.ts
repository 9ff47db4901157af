/**
 * Global setup shared by every suite: one real S3 server (moto) on a free loopback port,
 * and the Redis named by REDIS_URL (default redis://127.0.0.1:6379).
 *
 * Nothing is skipped when a service is missing: the run fails with a message that says
 * how to get it.
 */
import type { TestProject } from 'vitest/node';
import { startMotoServer, type MotoServer } from './moto-server';
import { assertRedisReachable, defaultRedisUrl } from './redis-check';
import './provided-context';

let moto: MotoServer | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redisUrl = defaultRedisUrl();
  await assertRedisReachable(redisUrl);
  // A run may be pointed at an S3 server that is already running (e.g. while debugging).
  const given = process.env['SIGLIP_TEST_S3_ENDPOINT'];
  if (!given) moto = await startMotoServer();
  const s3Endpoint = given ?? moto!.endpoint;
  project.provide('s3Endpoint', s3Endpoint);
  project.provide('redisUrl', redisUrl);
  return async () => {
    await moto?.stop();
    moto = undefined;
  };
}
