import { describe, expect, it } from 'vitest';
import { MODEL_VARIANTS as JOB_VARIANTS } from '@siglip-batch/jobs';
import { MODEL_VARIANTS } from '@siglip-batch/model';

// libs/model and libs/jobs import no other lib, so each names the variants; this is where the
// two lists meet, and they must be the same (a queue name for a variant the model cannot load,
// or the reverse, would strand runs).
describe('model variants', () => {
  it('are the same list in the model and in the job contract', () => {
    expect([...JOB_VARIANTS]).toEqual([...MODEL_VARIANTS]);
  });
});
