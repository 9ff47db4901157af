import { Command, Help } from 'commander';
import { describe, expect, it } from 'vitest';
import { COMMAND_EXAMPLES, COMMAND_LISTING, wantsListingOnly } from './command-help';
import { buildProgram, COMMAND_NAMES } from './program';

/** Every command under `command` (not commander's own `help`), with its path: `status`, `model inspect` … */
function commandsUnder(command: Command, path: string[] = []): Array<{ path: string[]; command: Command }> {
  return command.commands
    .filter((sub) => sub.name() !== 'help')
    .flatMap((sub) => [{ path: [...path, sub.name()], command: sub }, ...commandsUnder(sub, [...path, sub.name()])]);
}

function helpOf(command: Command): string {
  let text = '';
  for (let c: Command | null = command; c; c = c.parent) c.configureOutput({ writeOut: (chunk) => (text += chunk) });
  command.outputHelp();
  return text;
}

/** An example's words, quoted ones kept whole. */
const words = (example: string) => [...example.matchAll(/"([^"]*)"|(\S+)/g)].map((match) => match[1] ?? match[2]!);

/** Every command loaded (a typo on the command line loads them all). */
const fullProgram = () => buildProgram(['node', 'siglip-batch', 'no-such-command']);

describe('the top-level help without loading the subcommands', () => {
  it('has a listing for every subcommand, and none for a command that does not exist', () => {
    expect(Object.keys(COMMAND_LISTING).sort()).toEqual([...COMMAND_NAMES].sort());
  });

  it('lists each subcommand exactly as the loaded one (name, [options], arguments, summary)', async () => {
    const listed = await buildProgram(['node', 'siglip-batch', '--help']);
    const loaded = await fullProgram();
    expect(listed.helpInformation()).toBe(loaded.helpInformation());
    const help = new Help();
    for (const command of loaded.commands.filter((c) => c.name() !== 'help')) {
      expect(COMMAND_LISTING[command.name()]?.term, command.name()).toBe(help.subcommandTerm(command));
    }
  }, 60_000);

  it('is used for the help and the version alone, never when a subcommand or anything else is asked for', () => {
    for (const args of [[], ['--help'], ['-h'], ['help'], ['--version'], ['-V']]) {
      expect(wantsListingOnly(['node', 'siglip-batch', ...args], COMMAND_NAMES), args.join(' ')).toBe(true);
    }
    for (const args of [['status', '--help'], ['help', 'status'], ['--help', 'status'], ['enqeue']]) {
      expect(wantsListingOnly(['node', 'siglip-batch', ...args], COMMAND_NAMES), args.join(' ')).toBe(false);
    }
    // A subcommand without a listing: everything is loaded, the help stays complete.
    expect(wantsListingOnly(['node', 'siglip-batch', '--help'], [...COMMAND_NAMES, 'unlisted'])).toBe(false);
  });
});

describe('examples in the help', () => {
  it('shows one after the help of every subcommand and of theirs (model inspect …)', async () => {
    const all = commandsUnder(await fullProgram());
    expect(all.map(({ path }) => path.join(' '))).toEqual(expect.arrayContaining(['enqueue', 'model', 'model inspect', 'model pull']));
    for (const { path, command } of all) {
      const example = COMMAND_EXAMPLES[path.join(' ')];
      expect(example, `an example for ${path.join(' ')}`).toBeDefined();
      expect(example!.startsWith(`siglip-batch ${path.join(' ')}`), example).toBe(true);
      expect(helpOf(command)).toContain(`\nExample:\n  $ ${example}\n`);
    }
    expect(Object.keys(COMMAND_EXAMPLES).sort()).toEqual(all.map(({ path }) => path.join(' ')).sort());
  }, 60_000);

  it('uses only options the command has', async () => {
    const program = await fullProgram();
    for (const [key, example] of Object.entries(COMMAND_EXAMPLES)) {
      // `siglip-batch worker …` passes its options to the worker app, whose spec checks its example.
      if (key === 'worker') continue;
      let command: Command = program;
      const args = words(example).slice(1);
      for (let sub = command.commands.find((c) => c.name() === args[0]); sub; sub = command.commands.find((c) => c.name() === args[0])) {
        command = sub;
        args.shift();
      }
      const known = new Set(command.options.flatMap((option) => [option.long, option.short]).filter(Boolean));
      for (const flag of args.filter((word) => word.startsWith('-'))) expect(known, `${example}: ${flag}`).toContain(flag);
    }
  }, 60_000);
});
