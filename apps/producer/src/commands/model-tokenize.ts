import { loadModelDir, loadTokenizer } from '@siglip-batch/model';
import type { Command } from 'commander';

/** `siglip-batch model tokenize --model <dir> <text…>`: the text model's input ids. */
export function registerModelTokenizeCommand(model: Command): void {
  model
    .command('tokenize')
    .description("print the input ids the text model gets for each text (the family's tokenizer, special tokens, padded to the text length), as JSON")
    .requiredOption('--model <dir>', 'model directory')
    .option('--no-lowercase', "do not lower-case (SigLIP 2: GemmaTokenizer's ids instead of Siglip2Tokenizer's)")
    .argument('<text...>', 'texts')
    .action(async (texts: string[], options: { model: string; lowercase: boolean }) => {
      const info = await loadModelDir(options.model, { verifyContentHash: false });
      const tokenizer = await loadTokenizer(info, options.lowercase === false ? { lowercase: false } : {});
      const rows = texts.map((text) => ({ text, input_ids: tokenizer.encode(text) }));
      process.stdout.write(`${JSON.stringify(rows)}\n`);
    });
}
