import { loadModelDir, SiglipTokenizer } from '@siglip-batch/model';
import type { Command } from 'commander';

/** `siglip-batch model tokenize --model <dir> <text…>`: the text model's input ids. */
export function registerModelTokenizeCommand(model: Command): void {
  model
    .command('tokenize')
    .description('print the input ids SigLIP gets for each text (canonicalised, EOS, padded to the text length), as JSON')
    .requiredOption('--model <dir>', 'model directory')
    .argument('<text...>', 'texts')
    .action(async (texts: string[], options: { model: string }) => {
      const info = await loadModelDir(options.model, { verifyContentHash: false });
      const tokenizer = await SiglipTokenizer.fromDirectory(info.dir, { maxLength: info.textLength });
      const rows = texts.map((text) => ({ text, input_ids: tokenizer.encode(text) }));
      process.stdout.write(`${JSON.stringify(rows)}\n`);
    });
}
