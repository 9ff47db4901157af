#!/usr/bin/env node
// The worker process (`siglip-batch worker` starts it). Runs the TypeScript sources
// through tsx; container images run dist/apps/worker/main.mjs instead.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
