import { describe, expect, it } from 'vitest';
import { buildWorkerProgram, WORKER_EXAMPLE } from './program';

describe('the worker command line', () => {
  it('shows an example after its help, with options it has', () => {
    const program = buildWorkerProgram();
    let help = '';
    program.configureOutput({ writeOut: (text) => (help += text) });
    program.outputHelp();
    expect(help).toContain(`\nExample:\n  $ ${WORKER_EXAMPLE}\n`);
    const flags = WORKER_EXAMPLE.split(/\s+/).filter((word) => word.startsWith('-'));
    expect(flags.length).toBeGreaterThan(0);
    for (const flag of flags) expect(program.options.map((option) => option.long), flag).toContain(flag);
  });
});
