/**
 * One queue per model: the name is derived from the model's content hash and variant, so a
 * worker consumes only jobs it can run, and a run whose model no worker serves waits.
 */
export const MODEL_VARIANTS = ['fp32', 'fp16', 'quantized'] as const;
export type ModelVariant = (typeof MODEL_VARIANTS)[number];

export function queueNameForModel(contentHash: string, variant: ModelVariant): string {
  if (!/^[0-9a-f]{16,}$/.test(contentHash)) {
    throw new Error(`model content hash must be lower-case hex (≥ 16 digits), got ${JSON.stringify(contentHash)}`);
  }
  if (!MODEL_VARIANTS.includes(variant)) throw new Error(`unknown model variant ${JSON.stringify(variant)}`);
  // BullMQ queue names must not contain ':'; 16 hex digits (64 bits) are plenty to tell models apart.
  return `siglip-${contentHash.slice(0, 16)}-${variant}`;
}

export function parseQueueName(name: string): { hashPrefix: string; variant: ModelVariant } | undefined {
  const match = /^siglip-([0-9a-f]{16})-(fp32|fp16|quantized)$/.exec(name);
  return match ? { hashPrefix: match[1]!, variant: match[2] as ModelVariant } : undefined;
}
