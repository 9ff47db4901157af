/** Where the local model cache lives and how a verified entry is marked (s3:// and hf:// models). */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Written into an entry after its hash was verified; an entry without it is not trusted. */
export const VERIFIED_MARKER = '.siglip-batch-verified';

export function defaultModelCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const base = env['SIGLIP_BATCH_CACHE']?.trim();
  return base ? join(base, 'models') : join(homedir(), '.cache', 'siglip-batch', 'models');
}
