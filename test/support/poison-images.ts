/**
 * Valid images that are cheap to store and ruinous to preprocess naively (issue 12): a PNG of
 * 100,000,000 × 1 or 1 × 100,000,000 pixels has a few hundred kB of bytes and sits exactly at
 * the 100 Mpx limit, but a resampler that shrinks its long side to the model's size needs a
 * coefficient table of gigabytes. sharp takes 20 s to 2 min to encode them; this writes the
 * same PNG (8-bit RGB, one flat colour, zlib level 9) straight from the format in ~2 s.
 */
import { createDeflate } from 'node:zlib';

/** A valid `width × height` RGB PNG of one colour. */
export async function flatPng(width: number, height: number, rgb: readonly [number, number, number] = [200, 10, 30]): Promise<Buffer> {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8 bits, truecolour, deflate, no filter method, no interlace
  const idat = await deflateRows(width, height, rgb);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The zlib stream of `height` rows, each a filter byte 0 then `width` pixels, fed in pieces. */
async function deflateRows(width: number, height: number, rgb: readonly [number, number, number]): Promise<Buffer> {
  const deflate = createDeflate({ level: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (piece: Buffer) => out.push(piece));
  const ended = new Promise<void>((resolve, reject) => {
    deflate.on('end', resolve);
    deflate.on('error', reject);
  });
  const write = (piece: Buffer) => new Promise<void>((resolve, reject) => deflate.write(piece, (error) => (error ? reject(error) : resolve())));
  const row = Buffer.alloc(1 + 3 * Math.min(width, 1 << 20));
  for (let i = 1; i < row.length; i += 3) row.set(rgb, i);
  if (width <= 1 << 20) {
    // Short rows: many whole rows per write.
    const perPiece = Math.max(1, Math.floor((4 << 20) / row.length));
    const piece = Buffer.concat(Array.from({ length: perPiece }, () => row));
    for (let done = 0; done < height; done += perPiece) await write(piece.subarray(0, Math.min(perPiece, height - done) * row.length));
  } else {
    // Long rows: the filter byte, then the pixels in pieces.
    const pixels = row.subarray(1);
    for (let y = 0; y < height; y++) {
      await write(Buffer.from([0]));
      for (let done = 0; done < width; done += pixels.length / 3) {
        await write(pixels.subarray(0, Math.min(pixels.length / 3, width - done) * 3));
      }
    }
  }
  deflate.end();
  await ended;
  return Buffer.concat(out);
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
