/**
 * Releases an image's pixels (600 KB of float32 or 150 KB of uint8 at 224², outside the JS heap) once its batch is embedded,
 * instead of at a later garbage collection: at hundreds of images per second they otherwise
 * drive V8's collections (external memory pressure) on the shard processor's thread, which
 * also fetches, hashes and writes Parquet. Only after success: a batch split after an
 * out-of-memory error copies them again.
 */
export function freePixels(pixels: Float32Array | Uint8Array): void {
  const buffer = pixels.buffer as ArrayBuffer & { transfer?(length: number): ArrayBuffer };
  if (pixels.byteOffset === 0 && pixels.byteLength === buffer.byteLength && typeof buffer.transfer === 'function') buffer.transfer(0);
}
