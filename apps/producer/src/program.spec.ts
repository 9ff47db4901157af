import { Worker } from 'node:worker_threads';
import { takePrestartedInferenceThread } from '@siglip-batch/model/inference-prestart';
import { describe, expect, it } from 'vitest';
import { buildProgram, COMMAND_NAMES } from './program';

const names = (program: Awaited<ReturnType<typeof buildProgram>>) => program.commands.map((command) => command.name()).sort();

describe('buildProgram', () => {
  it('lists every subcommand for the help, a version request or an unknown name', async () => {
    for (const argv of [['node', 'siglip-batch'], ['node', 'siglip-batch', '--help'], ['node', 'siglip-batch', '-V'], ['node', 'siglip-batch', 'enqeue']]) {
      expect(names(await buildProgram(argv))).toEqual([...COMMAND_NAMES].sort());
    }
    expect(COMMAND_NAMES).toEqual(expect.arrayContaining(['enqueue', 'status', 'worker', 'search', 'compact', 'schedule']));
  }, 60_000);

  it('loads only the subcommand that runs', async () => {
    expect(names(await buildProgram(['node', 'siglip-batch', 'status', '--json']))).toEqual(['status']);
    expect(names(await buildProgram(['node', 'siglip-batch', 'model', 'inspect']))).toEqual(['model']);
  }, 60_000);

  it('starts the inference thread ahead for embed only, not for its help', async () => {
    takePrestartedInferenceThread();
    await buildProgram(['node', 'siglip-batch', 'status', '--json']);
    expect(takePrestartedInferenceThread()).toBeUndefined();
    await buildProgram(['node', 'siglip-batch', 'embed', '--help']);
    expect(takePrestartedInferenceThread()).toBeUndefined();
    await buildProgram(['node', 'siglip-batch', 'embed', '--source', 'photos/']);
    const thread = takePrestartedInferenceThread();
    expect(thread).toBeInstanceOf(Worker);
    await (thread as Worker).terminate();
  }, 60_000);

  it('registers each subcommand under the name it is loaded by', async () => {
    for (const name of COMMAND_NAMES) expect(names(await buildProgram(['node', 'siglip-batch', name]))).toEqual([name]);
    const prestarted = takePrestartedInferenceThread(); // `embed`'s, unused here
    if (prestarted instanceof Worker) await prestarted.terminate();
  }, 60_000);
});
