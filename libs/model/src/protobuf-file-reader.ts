import { open, type FileHandle } from 'node:fs/promises';

/** Protobuf wire types (https://protobuf.dev/programming-guides/encoding/). */
export const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  StartGroup = 3,
  EndGroup = 4,
  Fixed32 = 5,
}

/** One field header: its number, wire type and, for length-delimited fields, where its bytes are. */
export interface FieldHeader {
  readonly field: number;
  readonly wireType: WireType;
  /** For length-delimited fields: the payload length in bytes. */
  readonly length: number;
  /** For length-delimited fields: the file offset of the payload. */
  readonly start: number;
}

const CHUNK = 1 << 20;

/**
 * Reads protobuf wire format from a file without loading it: a window of at most 1 MiB is
 * kept, and fields that are not wanted are skipped by moving the file position, so a
 * multi-GB ONNX model costs a few reads per initializer rather than its size in memory.
 *
 * Messages are walked with `fields(end)`; a caller reads the payload of the fields it wants
 * (`readBytes`, `readVarint` …) or descends into them with another `fields(start + length)`;
 * whatever a caller leaves unread is skipped.
 */
export class ProtobufFileReader {
  private buffer = Buffer.alloc(0);
  /** File offset of `buffer[0]`. */
  private bufferStart = 0;
  /** Current file offset. */
  position = 0;

  private constructor(
    private readonly handle: FileHandle,
    /** File size in bytes. */
    readonly size: number,
  ) {}

  static async open(path: string): Promise<ProtobufFileReader> {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      return new ProtobufFileReader(handle, size);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }

  /** Walks the fields of a message that ends at file offset `end`, skipping any payload the caller leaves unread. */
  async *fields(end: number): AsyncGenerator<FieldHeader> {
    if (end > this.size) throw new ProtobufFormatError(`message ends at ${end}, past the end of the file (${this.size})`);
    while (this.position < end) {
      const tag = await this.readVarint();
      const field = Math.floor(tag / 8);
      const wireType = (tag & 7) as WireType;
      if (field === 0) throw new ProtobufFormatError(`field number 0 at offset ${this.position}`);
      let header: FieldHeader;
      switch (wireType) {
        case WireType.Varint:
        case WireType.Fixed64:
        case WireType.Fixed32:
          header = { field, wireType, length: 0, start: this.position };
          break;
        case WireType.LengthDelimited: {
          const length = await this.readVarint();
          header = { field, wireType, length, start: this.position };
          break;
        }
        default:
          throw new ProtobufFormatError(`unsupported wire type ${wireType} (groups) at offset ${this.position}`);
      }
      const after = header.wireType === WireType.LengthDelimited ? header.start + header.length : -1;
      if (after > end) throw new ProtobufFormatError(`field ${field} overruns its message (${after} > ${end})`);
      yield header;
      if (after >= 0) {
        if (this.position > after) throw new ProtobufFormatError(`field ${field} was read past its end`);
        this.position = after;
      } else if (this.position === header.start) {
        await this.skipScalar(wireType);
      }
    }
    if (this.position !== end) throw new ProtobufFormatError(`message overran its end (${this.position} > ${end})`);
  }

  /** An unsigned varint; values above 2^53 lose precision (no ONNX field we read gets near). */
  async readVarint(): Promise<number> {
    await this.ensure(10);
    let result = 0;
    let multiplier = 1;
    for (let i = 0; i < 10; i++) {
      const byte = this.byteAt(this.position);
      if (byte === undefined) throw new ProtobufFormatError(`truncated varint at offset ${this.position}`);
      this.position++;
      result += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) return result;
      multiplier *= 128;
    }
    throw new ProtobufFormatError(`varint longer than 10 bytes at offset ${this.position}`);
  }

  /** A signed int64/int32 varint (two's complement), as a JS number. */
  async readSignedVarint(): Promise<number> {
    const value = await this.readVarint();
    return value >= 2 ** 63 ? value - 2 ** 64 : value;
  }

  async readFixed32(): Promise<Buffer> {
    return this.readBytes(4);
  }

  async readFixed64(): Promise<Buffer> {
    return this.readBytes(8);
  }

  /** `length` bytes from the current position (a copy that stays valid). */
  async readBytes(length: number): Promise<Buffer> {
    if (this.position + length > this.size) throw new ProtobufFormatError(`read of ${length} bytes at ${this.position} passes the end of the file`);
    if (length > CHUNK) {
      const out = Buffer.alloc(length);
      const { bytesRead } = await this.handle.read(out, 0, length, this.position);
      if (bytesRead !== length) throw new ProtobufFormatError(`short read at ${this.position}`);
      this.position += length;
      return out;
    }
    await this.ensure(length);
    const offset = this.position - this.bufferStart;
    const out = Buffer.from(this.buffer.subarray(offset, offset + length));
    this.position += length;
    return out;
  }

  async readString(length: number): Promise<string> {
    return (await this.readBytes(length)).toString('utf8');
  }

  private async skipScalar(wireType: WireType): Promise<void> {
    if (wireType === WireType.Varint) await this.readVarint();
    else this.position += wireType === WireType.Fixed64 ? 8 : 4;
  }

  private byteAt(position: number): number | undefined {
    const offset = position - this.bufferStart;
    return offset >= 0 && offset < this.buffer.length ? this.buffer[offset] : undefined;
  }

  /** Makes `[position, position + length)` (clamped to the file) available in the window. */
  private async ensure(length: number): Promise<void> {
    const want = Math.min(this.position + length, this.size);
    if (this.position >= this.bufferStart && want <= this.bufferStart + this.buffer.length) return;
    const size = Math.min(Math.max(CHUNK, length), this.size - this.position);
    const buffer = Buffer.alloc(size);
    const { bytesRead } = await this.handle.read(buffer, 0, size, this.position);
    this.buffer = buffer.subarray(0, bytesRead);
    this.bufferStart = this.position;
  }
}

export class ProtobufFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
