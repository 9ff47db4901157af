import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a JavaScript build script without type declarations
import { compileResampler, generatedSource, GENERATED } from './build-resampler.mjs';

describe('the committed WebAssembly resampler', () => {
  it('is the build of libs/model/assembly/pillow-resample.ts', async () => {
    const expected = (generatedSource as (wasm: Buffer) => string)(await (compileResampler as () => Promise<Buffer>)());
    const committed = readFileSync(new URL(`../../${GENERATED as string}`, import.meta.url), 'utf8');
    expect(committed, `${GENERATED as string} is stale: run node tools/wasm/build-resampler.mjs`).toBe(expected);
  }, 60_000);
});
