import { readFile } from 'node:fs/promises';
import { CommanderError, type Command, type Option } from 'commander';
import { createRequire } from 'node:module';
import { errorMessage } from '@siglip-batch/jobs';
import { redactSecrets } from '@siglip-batch/io/secret-redaction';
import { ConfigError } from '@siglip-batch/pipeline';
import { log } from './cli-log';

// yaml (~50 ms to load) only when a --config file is read or printed, not at every start-up.
const yaml = (): typeof import('yaml') => createRequire(import.meta.url)('yaml') as typeof import('yaml');
const parseYaml = (text: string): unknown => yaml().parse(text);
const stringifyYaml = (value: unknown): string => yaml().stringify(value);

/**
 * Options that are no configuration key: they say where the configuration is or what to do
 * with it.
 */
const NOT_KEYS = new Set(['config', 'printConfig', 'help', 'version']);

/** The code of the commander exit that ends `--print-config` (exit code 0, nothing run). */
export const CONFIG_PRINTED = 'siglip-batch.configPrinted';

/**
 * `--config <file>` and `--print-config` on a command. The file's keys are the command's flags
 * without `--` (`shard-size: 500`, or `shardSize: 500`), its values go through the flags' own
 * parsers, and what the command line or an environment variable sets wins over the file, the
 * file over the defaults. Applied before the command's action.
 */
export function addConfigFileOptions(command: Command): Command {
  return command
    .option('--config <file>', 'read options from a YAML or JSON file whose keys are these flags without -- (e.g. shard-size: 500); flags and environment variables win over it')
    .option('--print-config', 'print the effective configuration (flags, environment, --config file, defaults) as YAML (JSON with --json) and exit without doing anything')
    .hook('preAction', async (thisCommand) => {
      const { config, printConfig, json } = thisCommand.opts<{ config?: string; printConfig?: boolean; json?: boolean }>();
      if (config !== undefined) {
        const values = await readConfigFile(config);
        applyConfig(thisCommand, values, config);
        log('debug', `--config ${config}: ${Object.keys(values).join(', ') || 'no keys'}`);
      }
      if (printConfig) {
        process.stdout.write(redactSecrets(printedConfig(effectiveConfig(thisCommand), json === true)));
        throw new CommanderError(0, CONFIG_PRINTED, 'configuration printed');
      }
    });
}

/** A config file's mapping of keys to values (YAML, of which JSON is a subset). */
export async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError([`--config ${file}: cannot be read (${errorMessage(error)})`]);
  }
  return parseConfigText(text, file);
}

export function parseConfigText(text: string, file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new ConfigError([`--config ${file}: not valid YAML or JSON (${errorMessage(error).split('\n')[0]})`]);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError([`--config ${file}: expected a mapping of option names to values (e.g. shard-size: 500), got ${describe(parsed)}`]);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Sets the command's options from `values` where neither the command line nor the environment
 * set them; every value is checked (even one a flag overrides), and every problem — unknown
 * key, wrong type, a value the flag's parser refuses — is named with its key and `file`, in one
 * {@link ConfigError}.
 */
export function applyConfig(command: Command, values: Record<string, unknown>, file: string): void {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  const options = configurableOptions(command);
  for (const [key, raw] of Object.entries(values)) {
    const option = options.find((o) => o.name() === key || o.attributeName() === key);
    if (!option) {
      const near = options.find((o) => loose(o.name()) === loose(key));
      const hint = near ? `did you mean ${near.name()}?` : `keys are the flags of \`siglip-batch ${command.name()}\` without --, see its --help`;
      problems.push(`${file}: unknown key "${key}" (${hint})`);
      continue;
    }
    const name = option.attributeName();
    const earlier = seen.get(name);
    if (earlier !== undefined) {
      problems.push(`${file}: "${key}" and "${earlier}" are the same option`);
      continue;
    }
    seen.set(name, key);
    let value: unknown;
    try {
      value = configValue(option, raw);
    } catch (error) {
      problems.push(`${file}: ${key}: ${errorMessage(error)}`);
      continue;
    }
    const source = command.getOptionValueSource(name);
    if (source !== 'cli' && source !== 'env') command.setOptionValueWithSource(name, value, 'config');
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

/** The effective value of every configuration key that has one, keyed by flag name. */
export function effectiveConfig(command: Command): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  const seen = new Set<string>();
  for (const option of configurableOptions(command)) {
    // `--x` and `--no-x` share one value: printed once, under the first, with its own sense.
    if (seen.has(option.attributeName())) continue;
    seen.add(option.attributeName());
    const value: unknown = command.getOptionValue(option.attributeName());
    if (value !== undefined) config[option.name()] = option.negate && typeof value === 'boolean' ? !value : value;
  }
  return config;
}

export function printedConfig(config: Record<string, unknown>, json: boolean): string {
  return json ? `${JSON.stringify(config)}\n` : stringifyYaml(config);
}

function configurableOptions(command: Command): Option[] {
  return command.options.filter((option) => option.long !== undefined && !NOT_KEYS.has(option.attributeName()));
}

/** A file value as the flag would have given it: through the flag's parser and choices. */
function configValue(option: Option, raw: unknown): unknown {
  if (!option.required && !option.optional) {
    if (typeof raw !== 'boolean') throw new Error(`expected true or false (it is a switch, --${option.name()}), got ${describe(raw)}`);
    return option.negate ? !raw : raw;
  }
  // Repeatable flags (a list default) take a list or one value; the others one value.
  const repeatable = Array.isArray(option.defaultValue);
  if (Array.isArray(raw) && !repeatable) throw new Error(`expected one value, got a list`);
  let value: unknown = repeatable ? [] : undefined;
  for (const item of Array.isArray(raw) ? (raw as unknown[]) : [raw]) {
    if (typeof item !== 'string' && typeof item !== 'number') {
      throw new Error(`expected ${repeatable ? 'a string or a list of strings' : 'a string or a number'}, got ${describe(item)}`);
    }
    const text = String(item);
    value = option.parseArg ? option.parseArg(text, value) : repeatable ? [...(value as unknown[]), text] : text;
  }
  return value;
}

/** `shard_size`, `Shard-Size` and `shardsize` all look like `shard-size`. */
function loose(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, '');
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}
