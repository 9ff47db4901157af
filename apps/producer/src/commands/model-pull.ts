import { HUB_VARIANTS, hubClientOptionsFromEnv, pullHubModel, validateRepoId, validateRevision, type HubVariant } from '@siglip-batch/pipeline';
import { Command, Option } from 'commander';

interface PullOptions {
  revision: string;
  variant: HubVariant;
  out: string;
  json?: boolean;
}

/**
 * `siglip-batch model pull <org/name> --out <dir>`: one variant of an ONNX export on the
 * Hugging Face Hub (Xenova / onnx-community layout, or a repo holding our own export) into a
 * model directory that `--model` takes. Hub URL from `HF_ENDPOINT`, token from `HF_TOKEN`.
 */
export function registerModelPullCommand(model: Command): void {
  model
    .command('pull')
    .description(
      'download one variant of an ONNX model from the Hugging Face Hub (HF_ENDPOINT, token HF_TOKEN) into a model directory: ' +
        'the two towers of the variant, config, preprocessor and tokenizer files, and the logit scale/bias source; ' +
        'every file checked against the Hub’s sha256 / git id, interrupted downloads resumed',
    )
    .argument('<repo>', 'repository id, org/name')
    .option('--revision <rev>', 'branch, tag or commit', 'main')
    .addOption(new Option('--variant <variant>', 'which graphs: onnx/*_<variant>.onnx (fp32: onnx/*.onnx)').choices([...HUB_VARIANTS]).default('fp32'))
    .requiredOption('--out <dir>', 'model directory to write (created; files already there with the right hash are kept)')
    .option('--json', 'print the result as JSON')
    .action(async (repo: string, options: PullOptions) => {
      const problems = [validateRepoId(repo), validateRevision(options.revision)].filter((p): p is string => typeof p === 'string');
      if (problems.length) throw new Error(problems.join('; '));
      const client = hubClientOptionsFromEnv();
      const result = await pullHubModel({ repo, revision: options.revision }, options.variant, options.out, {
        ...client,
        onFile: ({ path, bytes, resumedFrom, skipped }) => {
          if (options.json) return;
          const how = skipped ? 'present' : resumedFrom > 0 ? `resumed at ${resumedFrom} B` : 'downloaded';
          process.stderr.write(`  ${path} ${bytes ? `${bytes} B ` : ''}(${how})\n`);
        },
      });
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ ...result, dir: options.out }, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        `pulled ${result.repo} (revision ${result.revision}, commit ${result.commit}), variant ${result.variant}: ` +
          `${result.files.length} files, ${result.downloadedBytes} bytes downloaded, logit scale/bias from ${result.logitSource}\n` +
          `  → ${options.out}  (npx siglip-batch model inspect ${options.out}${result.variant === 'fp32' ? '' : ` --variant ${result.variant}`})\n`,
      );
    });
}
