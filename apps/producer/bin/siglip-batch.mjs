#!/usr/bin/env node
// The `siglip-batch` command: the esbuild bundle (dist/apps/producer/main.mjs) when it is current,
// else the TypeScript sources through tsx, so that `npx siglip-batch` works right after `npm ci`
// with no build step (see tools/run-app.mjs). The installed package (`npm pack`) runs the bundle.
import { fileURLToPath } from 'node:url';
// The one start-up rule of both bins, shipped in the package beside them (plain JavaScript, not a
// project: the module-boundary rule has no tag for it).
// eslint-disable-next-line @nx/enforce-module-boundaries
import { runApp } from '../../../tools/run-app.mjs';

await runApp(fileURLToPath(new URL('../../../', import.meta.url)), 'apps/producer');
