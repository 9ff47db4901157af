import type { Command } from 'commander';
import { buildLabelSet, SiglipModel } from '@siglip-batch/model';
import { ProblemList, readLabelFile } from '@siglip-batch/pipeline';
import { assertRunModel, readFinishedManifest, retagRun } from '@siglip-batch/retrieval';
import { openRunFolder } from '@siglip-batch/run-format';
import { addConnectionOptions, s3OptionsOf, type ConnectionOptions } from '../shared/connections';
import { collect, positiveInt } from '../shared/parsers';
import { resolveModelDir } from '../shared/model-dir';
import { log } from '../shared/cli-log';

interface RetagCliOptions extends ConnectionOptions {
  run: string;
  labelsFile: string;
  template: string[];
  out: string;
  model: string;
  device: string;
  threads?: number;
  json?: boolean;
}

export function registerRetagCommand(program: Command): void {
  const command = program
    .command('retag')
    .description("new label scores and tags for a finished run from its stored embeddings (no image is read), into a new run folder")
    .requiredOption('--run <uri>', 'source run folder, e.g. s3://bucket/out/run-a/')
    .requiredOption('--labels-file <file>', 'labels file: text (one per line), JSON or YAML')
    .requiredOption('--out <uri>', 'the new run folder, e.g. s3://bucket/out/run-a-retag/ (its last segment is its run id)')
    .requiredOption('--model <dir>', "the run's model directory (its text tower embeds the labels)")
    .option('--template <text>', "prompt template with {} (repeatable; default: the labels file's, else the run's)", collect, [] as string[])
    .option('--device <device>', 'cpu, cuda or cuda:N', 'cpu')
    .option('--threads <n>', 'ONNX Runtime intra-op threads', positiveInt('--threads'))
    .option('--json', 'print the new manifest as JSON');
  addConnectionOptions(command, false).action(async (options: RetagCliOptions) => {
    process.exitCode = await retagCommand(options);
  });
}

async function retagCommand(options: RetagCliOptions): Promise<number> {
  const s3 = s3OptionsOf(options);
  const problems = new ProblemList();
  const source = await problems.check(`--run ${options.run}`, () => openRunFolder(options.run, s3));
  const manifest = source ? await problems.check(`--run ${options.run}`, () => readFinishedManifest(source)) : undefined;
  const target = await problems.check(`--out ${options.out}`, () => openRunFolder(options.out, s3));
  if (source && target && source.uriOf('') === target.uriOf('')) problems.add('--out must not be the source run folder');
  const labels = await problems.check('--labels-file', () => readLabelFile(options.labelsFile));
  const modelDir = await problems.check(`--model ${options.model}`, () => resolveModelDir(options.model, s3, manifest?.model.variant));
  const model = modelDir
    ? await problems.check(`model ${options.model}`, () =>
        SiglipModel.load(modelDir, {
          device: options.device,
          // New labels against stored embeddings: the text tower only.
          towers: ['text'],
          ...(manifest ? { variant: manifest.model.variant } : {}),
          ...(options.threads ? { intraOpThreads: options.threads } : {}),
        }),
      )
    : undefined;
  if (model && manifest) await problems.check('model', () => assertRunModel(model, manifest));
  const templates = options.template.length > 0 ? options.template : labels?.templates ?? manifest?.templates ?? [];
  const set = labels
    ? await problems.check('labels', () =>
        buildLabelSet(
          labels.labels.map((l) => ({ label: l.label, threshold: l.threshold, ...(l.prompts.length > 0 ? { prompts: l.prompts } : {}) })),
          { templates },
        ),
      )
    : undefined;
  if (problems.problems.length > 0) {
    await model?.close();
    source?.store.close();
    target?.store.close();
  }
  problems.throwIfAny();
  try {
    const scorer = await model!.labelScorer(set!);
    const retagged = await retagRun({
      source: source!,
      manifest: manifest!,
      target: target!,
      labels: labels!.labels,
      templates,
      scorer,
      onPart: (done, total) => process.stderr.isTTY && process.stderr.write(`\rretagged ${done}/${total} parts`),
    });
    if (process.stderr.isTTY) process.stderr.write('\n');
    if (options.json) process.stdout.write(`${JSON.stringify({ folder: target!.uriOf(''), manifest: retagged })}\n`);
    else {
      log('info', `run ${retagged.runId}: ${retagged.counts.ok} rows rescored against ${labels!.labels.length} labels`);
      process.stdout.write(`${target!.uriOf('')}\n`);
    }
    return 0;
  } finally {
    await model!.close();
    source!.store.close();
    target!.store.close();
  }
}
