#!/usr/bin/env node
// The `siglip-batch` command. It runs the TypeScript sources through tsx, so that
// `npx siglip-batch` works right after `npm ci` with no build step. Container images run
// the bundle from `nx build producer` instead (dist/apps/producer/main.mjs).
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
