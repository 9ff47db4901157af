#!/usr/bin/env node
// The worker process (`siglip-batch worker` starts it): the esbuild bundle
// (dist/apps/worker/main.mjs) when it is current, else the TypeScript sources through tsx (see
// tools/run-app.mjs). Container images run dist/apps/worker/main.mjs directly.
import { fileURLToPath } from 'node:url';
// The one start-up rule of both bins, shipped in the package beside them (plain JavaScript, not a
// project: the module-boundary rule has no tag for it).
// eslint-disable-next-line @nx/enforce-module-boundaries
import { runApp } from '../../../tools/run-app.mjs';

await runApp(fileURLToPath(new URL('../../../', import.meta.url)), 'apps/worker');
