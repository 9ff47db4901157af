import type { S3Client } from '@aws-sdk/client-s3';
import { S3 } from './lazy-aws-sdk';
import type { RandomAccessBlob } from './object-store';
import { s3StoreError } from './s3-error';

/**
 * Random access to one S3 object by ranged GETs, for parquet-wasm's streaming reader (which
 * reads the footer, then the column chunks it needs). Every range is read with `If-Match` on
 * the ETag seen when the blob was opened, so an object replaced meanwhile fails loudly instead
 * of mixing two versions.
 */
export class S3RangeBlob implements RandomAccessBlob {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly key: string,
    readonly size: number,
    private readonly etag: string,
    private readonly start = 0,
  ) {}

  slice(start = 0, end = this.size): S3RangeBlob {
    const from = clamp(start, this.size);
    const to = Math.max(from, clamp(end, this.size));
    return new S3RangeBlob(this.client, this.bucket, this.key, to - from, this.etag, this.start + from);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    if (this.size === 0) return new ArrayBuffer(0);
    const range = `bytes=${this.start}-${this.start + this.size - 1}`;
    try {
      const response = await this.client.send(
        new S3.GetObjectCommand({ Bucket: this.bucket, Key: this.key, Range: range, IfMatch: `"${this.etag}"` }),
      );
      const bytes = await response.Body!.transformToByteArray();
      if (bytes.byteLength !== this.size) throw new Error(`asked for ${this.size} bytes (${range}), got ${bytes.byteLength}`);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    } catch (error) {
      throw s3StoreError(error, this.key, `ranged read (${range}) of s3://${this.bucket}/${this.key}`);
    }
  }
}

function clamp(value: number, size: number): number {
  if (value < 0) return Math.max(0, size + value);
  return Math.min(value, size);
}
