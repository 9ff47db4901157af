import type { Command } from 'commander';
import { registerModelEmbedCommand } from './model-embed';
import { registerModelInspectCommand } from './model-inspect';
import { registerModelPreprocessCommand } from './model-preprocess';
import { registerModelPullCommand } from './model-pull';
import { registerModelTokenizeCommand } from './model-tokenize';

/**
 * `siglip-batch model …`: look at a model directory and run the model on local files,
 * without Redis or S3 — the library's parity with transformers, from the command line.
 */
export function registerModelCommand(program: Command): void {
  const model = program
    .command('model')
    .description('inspect a SigLIP model directory, tokenize, preprocess and embed local files');
  registerModelInspectCommand(model);
  registerModelTokenizeCommand(model);
  registerModelPreprocessCommand(model);
  registerModelEmbedCommand(model);
  registerModelPullCommand(model);
}
