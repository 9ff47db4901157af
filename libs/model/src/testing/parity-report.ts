/**
 * Prints the parity figures against the committed transformers reference (the tables in
 * libs/model/README.md):
 *   npx tsx libs/model/src/testing/parity-report.ts
 */
import { formatParity, measureParity } from './parity';

for (const variant of ['fp32', 'fp16'] as const) {
  console.log(`### ${variant}\n\n${formatParity(await measureParity(variant))}\n`);
}
