import { describe, expect, it } from 'vitest';
import { isOutOfMemoryMessage } from './inference-out-of-memory-error';

describe('isOutOfMemoryMessage', () => {
  it.each([
    '[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running MatMul node. Name:\'/MatMul\' Status Message: /onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:376 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*, bool, onnxruntime::WaitNotificationFn) Failed to allocate memory for requested buffer of size 8589934592',
    'CUDA failure 2: out of memory ; GPU=0 ; hostname=x ; file=cuda_allocator.cc',
    'CUBLAS failure 3: CUBLAS_STATUS_ALLOC_FAILED',
    'std::bad_alloc',
  ])('recognises %s', (message) => {
    expect(isOutOfMemoryMessage(message)).toBe(true);
  });

  it.each(['Got invalid dimensions for input: pixel_values', 'indices element out of data bounds'])('does not take %s for OOM', (message) => {
    expect(isOutOfMemoryMessage(message)).toBe(false);
  });
});
