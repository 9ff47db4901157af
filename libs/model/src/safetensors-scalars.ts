import { open } from 'node:fs/promises';
import { bfloat16ToFloat, halfToFloat } from './float16';

/** Largest safetensors header we accept (the format caps it at 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

interface TensorEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/**
 * Reads named one-element tensors from a `.safetensors` file: the 8-byte header length, the
 * JSON header, then only the few bytes of each wanted tensor — never the weights.
 * A name matches a key equal to it or ending in `.<name>` (e.g. `model.logit_scale`).
 * Returns the values found; names not present (or not one-element floats) are absent.
 */
export async function readSafetensorsScalars(path: string, names: readonly string[]): Promise<Map<string, number>> {
  const handle = await open(path, 'r');
  try {
    const lengthBytes = Buffer.alloc(8);
    await handle.read(lengthBytes, 0, 8, 0);
    const headerLength = Number(lengthBytes.readBigUInt64LE(0));
    if (headerLength <= 0 || headerLength > MAX_HEADER_BYTES) throw new Error(`bad safetensors header length ${headerLength}`);
    const headerBytes = Buffer.alloc(headerLength);
    await handle.read(headerBytes, 0, headerLength, 8);
    const header = JSON.parse(headerBytes.toString('utf8')) as Record<string, TensorEntry | Record<string, string>>;
    const dataStart = 8 + headerLength;
    const found = new Map<string, number>();
    for (const name of names) {
      const key = Object.keys(header).find((k) => k !== '__metadata__' && (k === name || k.endsWith(`.${name}`)));
      const entry = key === undefined ? undefined : (header[key] as TensorEntry);
      if (!entry || entry.shape.reduce((a, b) => a * b, 1) !== 1) continue;
      const [begin, end] = entry.data_offsets;
      const bytes = Buffer.alloc(end - begin);
      if (bytes.length > 8) continue;
      await handle.read(bytes, 0, bytes.length, dataStart + begin);
      const value = decode(entry.dtype, bytes);
      if (value !== undefined) found.set(name, value);
    }
    return found;
  } finally {
    await handle.close();
  }
}

function decode(dtype: string, bytes: Buffer): number | undefined {
  switch (dtype) {
    case 'F32':
      return bytes.length === 4 ? bytes.readFloatLE(0) : undefined;
    case 'F64':
      return bytes.length === 8 ? bytes.readDoubleLE(0) : undefined;
    case 'F16':
      return bytes.length === 2 ? halfToFloat(bytes.readUInt16LE(0)) : undefined;
    case 'BF16':
      return bytes.length === 2 ? bfloat16ToFloat(bytes.readUInt16LE(0)) : undefined;
    default:
      return undefined;
  }
}
