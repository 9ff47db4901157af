/**
 * Prints the parity figures against a committed transformers reference (the tables in
 * libs/model/README.md):
 *   npx tsx libs/model/src/testing/parity-report.ts [tiny-siglip | tiny-siglip2 | tiny-multilingual]
 */
import { TINY_MULTILINGUAL, TINY_SIGLIP, TINY_SIGLIP2 } from './model-fixtures';
import { formatParity, measureParity } from './parity';

const fixtures = [TINY_SIGLIP, TINY_SIGLIP2, TINY_MULTILINGUAL];
const name = process.argv[2] ?? TINY_SIGLIP.name;
const fixture = fixtures.find((f) => f.name === name);
if (!fixture) throw new Error(`unknown fixture ${name}: use ${fixtures.map((f) => f.name).join(', ')}`);

for (const variant of ['fp32', 'fp16'] as const) {
  console.log(`### ${fixture.name} ${variant}\n\n${formatParity(await measureParity(variant, fixture))}\n`);
}
