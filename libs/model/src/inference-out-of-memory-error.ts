/**
 * ONNX Runtime could not allocate memory for a batch (host or GPU). The model is still
 * usable: a caller retries with smaller batches.
 */
export class InferenceOutOfMemoryError extends Error {
  constructor(
    /** Images or texts in the batch that failed. */
    readonly batchSize: number,
    message: string,
  ) {
    super(message);
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** ORT's messages for failed allocations: CPU arena, BFC arena, CUDA, cuBLAS/cuDNN. */
const OUT_OF_MEMORY = /failed to allocate memory|bad[ _]alloc|out of memory|OUT_OF_MEMORY|ALLOC_FAILED|Failed to allocate|BFCArena.*(?:allocat|extend)|std::bad_alloc|cudaErrorMemoryAllocation/i;

/** Whether an ORT error message reports a failed allocation. */
export function isOutOfMemoryMessage(message: string): boolean {
  return OUT_OF_MEMORY.test(message);
}
