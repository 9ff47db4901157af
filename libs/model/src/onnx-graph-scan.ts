import { open } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { halfToFloat, bfloat16ToFloat } from './float16';
import { ProtobufFileReader, ProtobufFormatError, WireType } from './protobuf-file-reader';

/** ONNX `TensorProto.DataType` values we name in messages. */
export const ONNX_ELEMENT_TYPES: Readonly<Record<number, string>> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  16: 'bfloat16',
};

/** A graph input or output: name, element type and dims (a number, a symbolic name, or unknown). */
export interface OnnxValueInfo {
  readonly name: string;
  /** `TensorProto.DataType`, 0 when the value is not a tensor. */
  readonly elemType: number;
  readonly dims: ReadonlyArray<number | string | undefined>;
}

export interface OnnxNode {
  readonly opType: string;
  readonly name: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

/** What `scanOnnxModel` learns from a model file, without loading its weights. */
export interface OnnxGraphSummary {
  readonly irVersion: number;
  readonly opsets: ReadonlyArray<{ domain: string; version: number }>;
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
  /** Graph nodes, in file order (only when `nodes: true` was asked). */
  readonly nodes: readonly OnnxNode[];
  /** Every one-element float constant (initializer or `Constant` node output) by tensor name. */
  readonly scalars: ReadonlyMap<string, number>;
  /** External data files the initializers refer to, relative to the model's folder. */
  readonly externalDataFiles: ReadonlySet<string>;
}

export interface ScanOptions {
  /**
   * Collect the graph's nodes (needed to find tensors by role). Without it node payloads are
   * skipped unread.
   * @defaultValue false
   */
  readonly nodes?: boolean;
}

/** Scalars longer than this in a tensor payload cannot be one element of any float type. */
const MAX_SCALAR_BYTES = 8;

/**
 * Reads an ONNX model's graph inputs, outputs, opsets, nodes and scalar constants as a stream
 * (`ModelProto.graph` → `GraphProto.node / initializer / input / output`): weights are skipped
 * by seeking, so a multi-GB model — or one whose weights are in external data files — costs a
 * few MB of reads and no memory to speak of.
 */
export async function scanOnnxModel(path: string, options: ScanOptions = {}): Promise<OnnxGraphSummary> {
  const reader = await ProtobufFileReader.open(path);
  try {
    const state: ScanState = {
      irVersion: 0,
      opsets: [],
      inputs: [],
      outputs: [],
      nodes: [],
      scalars: new Map(),
      externalScalars: [],
      externalDataFiles: new Set(),
      wantNodes: options.nodes ?? false,
    };
    let sawGraph = false;
    for await (const f of reader.fields(reader.size)) {
      if (f.field === 1 && f.wireType === WireType.Varint) state.irVersion = await reader.readVarint();
      else if (f.field === 7 && f.wireType === WireType.LengthDelimited) {
        sawGraph = true;
        await scanGraph(reader, f.start + f.length, state);
      } else if (f.field === 8 && f.wireType === WireType.LengthDelimited) {
        state.opsets.push(await readOpset(reader, f.start + f.length));
      }
    }
    if (!sawGraph) throw new ProtobufFormatError('no graph in the model (is this an ONNX file?)');
    for (const external of state.externalScalars) {
      const value = await readExternalScalar(dirname(path), external);
      if (value !== undefined) state.scalars.set(external.name, value);
    }
    return {
      irVersion: state.irVersion,
      opsets: state.opsets,
      inputs: state.inputs,
      outputs: state.outputs,
      nodes: state.nodes,
      scalars: state.scalars,
      externalDataFiles: state.externalDataFiles,
    };
  } finally {
    await reader.close();
  }
}

interface ExternalScalar {
  readonly name: string;
  readonly dataType: number;
  readonly location: string;
  readonly offset: number;
  readonly length: number;
}

interface ScanState {
  irVersion: number;
  opsets: Array<{ domain: string; version: number }>;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  nodes: OnnxNode[];
  scalars: Map<string, number>;
  externalScalars: ExternalScalar[];
  externalDataFiles: Set<string>;
  wantNodes: boolean;
}

async function readOpset(reader: ProtobufFileReader, end: number): Promise<{ domain: string; version: number }> {
  let domain = '';
  let version = 0;
  for await (const f of reader.fields(end)) {
    if (f.field === 1 && f.wireType === WireType.LengthDelimited) domain = await reader.readString(f.length);
    else if (f.field === 2 && f.wireType === WireType.Varint) version = await reader.readVarint();
  }
  return { domain, version };
}

async function scanGraph(reader: ProtobufFileReader, end: number, state: ScanState): Promise<void> {
  for await (const f of reader.fields(end)) {
    if (f.wireType !== WireType.LengthDelimited) continue;
    const fieldEnd = f.start + f.length;
    switch (f.field) {
      case 1: // node
        if (state.wantNodes) await scanNode(reader, fieldEnd, state);
        break;
      case 5: {
        // initializer
        const tensor = await readTensor(reader, fieldEnd);
        recordTensor(tensor, tensor.name, state);
        break;
      }
      case 11: // input
        state.inputs.push(await readValueInfo(reader, fieldEnd));
        break;
      case 12: // output
        state.outputs.push(await readValueInfo(reader, fieldEnd));
        break;
    }
  }
}

async function scanNode(reader: ProtobufFileReader, end: number, state: ScanState): Promise<void> {
  const inputs: string[] = [];
  const outputs: string[] = [];
  let opType = '';
  let name = '';
  const constants: Array<{ attribute: string; tensor?: TensorInfo; float?: number }> = [];
  for await (const f of reader.fields(end)) {
    if (f.wireType !== WireType.LengthDelimited) continue;
    if (f.field === 1) inputs.push(await reader.readString(f.length));
    else if (f.field === 2) outputs.push(await reader.readString(f.length));
    else if (f.field === 3) name = await reader.readString(f.length);
    else if (f.field === 4) opType = await reader.readString(f.length);
    else if (f.field === 5) constants.push(await readAttribute(reader, f.start + f.length));
  }
  state.nodes.push({ opType, name, inputs, outputs });
  if (opType === 'Constant' && outputs[0] !== undefined) {
    for (const attribute of constants) {
      if (attribute.attribute === 'value' && attribute.tensor) recordTensor(attribute.tensor, outputs[0], state);
      if (attribute.attribute === 'value_float' && attribute.float !== undefined) state.scalars.set(outputs[0], attribute.float);
    }
  }
}

async function readAttribute(reader: ProtobufFileReader, end: number): Promise<{ attribute: string; tensor?: TensorInfo; float?: number }> {
  let attribute = '';
  let tensor: TensorInfo | undefined;
  let float: number | undefined;
  for await (const f of reader.fields(end)) {
    if (f.field === 1 && f.wireType === WireType.LengthDelimited) attribute = await reader.readString(f.length);
    else if (f.field === 2 && f.wireType === WireType.Fixed32) float = (await reader.readFixed32()).readFloatLE(0);
    else if (f.field === 5 && f.wireType === WireType.LengthDelimited) tensor = await readTensor(reader, f.start + f.length);
  }
  return { attribute, ...(tensor ? { tensor } : {}), ...(float !== undefined ? { float } : {}) };
}

interface TensorInfo {
  name: string;
  dims: number[];
  dataType: number;
  /** The value when the tensor holds one element stored in the model file itself. */
  value?: number;
  external?: Map<string, string>;
}

function recordTensor(tensor: TensorInfo, name: string, state: ScanState): void {
  if (tensor.external) {
    const location = tensor.external.get('location');
    if (location) state.externalDataFiles.add(location);
    if (location && tensor.dims.reduce((a, b) => a * b, 1) === 1) {
      state.externalScalars.push({
        name,
        dataType: tensor.dataType,
        location,
        offset: Number(tensor.external.get('offset') ?? 0),
        length: Number(tensor.external.get('length') ?? 0),
      });
    }
    return;
  }
  if (tensor.value !== undefined) state.scalars.set(name, tensor.value);
}

async function readTensor(reader: ProtobufFileReader, end: number): Promise<TensorInfo> {
  const dims: number[] = [];
  let dataType = 0;
  let name = '';
  let raw: Buffer | undefined;
  const floats: number[] = [];
  const doubles: number[] = [];
  const int32s: number[] = [];
  let external: Map<string, string> | undefined;
  let dataLocation = 0;
  for await (const f of reader.fields(end)) {
    const ld = f.wireType === WireType.LengthDelimited;
    switch (f.field) {
      case 1: // dims (int64, packed or not)
        if (ld) {
          const stop = f.start + f.length;
          while (reader.position < stop) dims.push(await reader.readSignedVarint());
        } else dims.push(await reader.readSignedVarint());
        break;
      case 2:
        if (!ld) dataType = await reader.readVarint();
        break;
      case 4: // float_data
        if (ld && f.length <= MAX_SCALAR_BYTES) {
          const bytes = await reader.readBytes(f.length);
          for (let i = 0; i + 4 <= bytes.length; i += 4) floats.push(bytes.readFloatLE(i));
        } else if (f.wireType === WireType.Fixed32) floats.push((await reader.readFixed32()).readFloatLE(0));
        break;
      case 5: // int32_data (also carries float16/bfloat16 bits)
        if (ld && f.length <= MAX_SCALAR_BYTES) {
          const stop = f.start + f.length;
          while (reader.position < stop) int32s.push(await reader.readSignedVarint());
        } else if (!ld) int32s.push(await reader.readSignedVarint());
        break;
      case 8:
        if (ld) name = await reader.readString(f.length);
        break;
      case 9: // raw_data
        if (ld && f.length <= MAX_SCALAR_BYTES) raw = await reader.readBytes(f.length);
        break;
      case 10: // double_data
        if (ld && f.length <= MAX_SCALAR_BYTES) {
          const bytes = await reader.readBytes(f.length);
          if (bytes.length >= 8) doubles.push(bytes.readDoubleLE(0));
        } else if (f.wireType === WireType.Fixed64) doubles.push((await reader.readFixed64()).readDoubleLE(0));
        break;
      case 13: // external_data
        if (ld) {
          external ??= new Map();
          const entry = await readStringEntry(reader, f.start + f.length);
          external.set(entry.key, entry.value);
        }
        break;
      case 14:
        if (!ld) dataLocation = await reader.readVarint();
        break;
    }
  }
  const tensor: TensorInfo = { name, dims, dataType };
  if (dataLocation === 1 && external) {
    tensor.external = external;
    return tensor;
  }
  if (dims.reduce((a, b) => a * b, 1) !== 1) return tensor;
  if (raw) tensor.value = decodeScalar(raw, dataType);
  else if (dataType === 1 && floats.length === 1) tensor.value = floats[0];
  else if (dataType === 11 && doubles.length === 1) tensor.value = doubles[0];
  else if (dataType === 10 && int32s.length === 1) tensor.value = halfToFloat(int32s[0]!);
  else if (dataType === 16 && int32s.length === 1) tensor.value = bfloat16ToFloat(int32s[0]!);
  return tensor;
}

async function readStringEntry(reader: ProtobufFileReader, end: number): Promise<{ key: string; value: string }> {
  let key = '';
  let value = '';
  for await (const f of reader.fields(end)) {
    if (f.wireType !== WireType.LengthDelimited) continue;
    if (f.field === 1) key = await reader.readString(f.length);
    else if (f.field === 2) value = await reader.readString(f.length);
  }
  return { key, value };
}

async function readValueInfo(reader: ProtobufFileReader, end: number): Promise<OnnxValueInfo> {
  let name = '';
  let elemType = 0;
  let dims: Array<number | string | undefined> = [];
  for await (const f of reader.fields(end)) {
    if (f.wireType !== WireType.LengthDelimited) continue;
    if (f.field === 1) name = await reader.readString(f.length);
    else if (f.field === 2) {
      // TypeProto.tensor_type (1) → elem_type (1), shape (2) → dim (1) → dim_value (1) | dim_param (2)
      for await (const t of reader.fields(f.start + f.length)) {
        if (t.field !== 1 || t.wireType !== WireType.LengthDelimited) continue;
        for await (const tensorField of reader.fields(t.start + t.length)) {
          if (tensorField.field === 1 && tensorField.wireType === WireType.Varint) elemType = await reader.readVarint();
          else if (tensorField.field === 2 && tensorField.wireType === WireType.LengthDelimited) {
            dims = [];
            for await (const d of reader.fields(tensorField.start + tensorField.length)) {
              if (d.field !== 1 || d.wireType !== WireType.LengthDelimited) continue;
              let dim: number | string | undefined;
              for await (const dimField of reader.fields(d.start + d.length)) {
                if (dimField.field === 1 && dimField.wireType === WireType.Varint) dim = await reader.readSignedVarint();
                else if (dimField.field === 2 && dimField.wireType === WireType.LengthDelimited) dim = await reader.readString(dimField.length);
              }
              dims.push(dim);
            }
          }
        }
      }
    }
  }
  return { name, elemType, dims };
}

function decodeScalar(raw: Buffer, dataType: number): number | undefined {
  switch (dataType) {
    case 1:
      return raw.length === 4 ? raw.readFloatLE(0) : undefined;
    case 10:
      return raw.length === 2 ? halfToFloat(raw.readUInt16LE(0)) : undefined;
    case 16:
      return raw.length === 2 ? bfloat16ToFloat(raw.readUInt16LE(0)) : undefined;
    case 11:
      return raw.length === 8 ? raw.readDoubleLE(0) : undefined;
    default:
      return undefined;
  }
}

async function readExternalScalar(modelDir: string, external: ExternalScalar): Promise<number | undefined> {
  const location = normalize(external.location);
  // External data must stay beside the model: never follow a location out of its folder.
  if (isAbsolute(location) || location.startsWith(`..${sep}`) || location === '..') return undefined;
  const size = external.length || (external.dataType === 11 ? 8 : external.dataType === 1 ? 4 : 2);
  if (size > MAX_SCALAR_BYTES) return undefined;
  const handle = await open(join(modelDir, location), 'r').catch(() => undefined);
  if (!handle) return undefined;
  try {
    const buffer = Buffer.alloc(size);
    const { bytesRead } = await handle.read(buffer, 0, size, external.offset);
    return bytesRead === size ? decodeScalar(buffer, external.dataType) : undefined;
  } finally {
    await handle.close();
  }
}

