/**
 * The requested execution device cannot be used (e.g. `cuda` without ONNX Runtime's CUDA
 * provider libraries or without a GPU). Never answered by a silent CPU fallback.
 */
export class DeviceUnavailableError extends Error {
  constructor(
    /** The device as asked for, e.g. `cuda:1`. */
    readonly device: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
