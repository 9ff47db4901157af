import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addDecodeOptions, addRunOptions, decodeModeOf, embeddingDtypeOption, type DecodeCliOptions, type RunCliOptions } from './run-options';

function parse(args: string[]): RunCliOptions {
  const command = addRunOptions(new Command('enqueue').exitOverride().configureOutput({ writeErr: () => undefined }));
  command.parse(args, { from: 'user' });
  return command.opts<RunCliOptions>();
}

describe('run options', () => {
  it('take --embedding-dtype float16 or float32, absent by default', () => {
    expect(parse(['--embedding-dtype', 'float16']).embeddingDtype).toBe('float16');
    expect(parse(['--embedding-dtype', 'float32']).embeddingDtype).toBe('float32');
    expect(parse([]).embeddingDtype).toBeUndefined();
  });
  it('refuse any other storage type, naming the choices', () => {
    expect(() => parse(['--embedding-dtype', 'bfloat16'])).toThrow(/Allowed choices are float32, float16/);
    expect(embeddingDtypeOption().argChoices).toEqual(['float32', 'float16']);
  });
});

function parseDecode(args: string[]): DecodeCliOptions {
  const command = addDecodeOptions(new Command('embed').exitOverride().configureOutput({ writeErr: () => undefined }));
  command.parse(args, { from: 'user' });
  return command.opts<DecodeCliOptions>();
}

describe('decode options', () => {
  it('give exact by default, fast with Pillow’s default gap of 2, or the gap given', () => {
    expect(decodeModeOf(parseDecode([]))).toEqual({ mode: 'exact' });
    expect(decodeModeOf(parseDecode(['--decode', 'exact']))).toEqual({ mode: 'exact' });
    expect(decodeModeOf(parseDecode(['--decode', 'fast']))).toEqual({ mode: 'fast', reducingGap: 2 });
    expect(decodeModeOf(parseDecode(['--decode', 'fast', '--reducing-gap', '3.5']))).toEqual({ mode: 'fast', reducingGap: 3.5 });
  });
  it('refuse another mode, a gap below 1 and a gap without fast', () => {
    expect(() => parseDecode(['--decode', 'quick'])).toThrow(/Allowed choices are exact, fast/);
    expect(() => parseDecode(['--decode', 'fast', '--reducing-gap', '0.9'])).toThrow(/--reducing-gap must be a number from 1 to 1000, got "0.9"/);
    expect(() => parseDecode(['--decode', 'fast', '--reducing-gap', 'two'])).toThrow(/--reducing-gap must be a number/);
    expect(() => decodeModeOf(parseDecode(['--reducing-gap', '3']))).toThrow(/--reducing-gap applies to --decode fast only/);
  });
});
