#include "cuda/memory.h"

#include <cuda_runtime_api.h>

#include <map>
#include <stdexcept>

#include "cuda/check.h"
#include "cuda/context.h"

namespace alexnet::cuda {

namespace {

// Never destroyed: a release may still run on another thread while the process exits.
std::map<int, MemoryStats>& Stats() {
  static auto* stats = new std::map<int, MemoryStats>();
  return *stats;
}

std::string Mib(size_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

}  // namespace

bool DeviceAvailable(int index, std::string* why) {
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    *why = std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
    cudaGetLastError();
    return false;
  }
  if (index >= count) {
    *why = count == 0 ? "no CUDA device is visible"
                      : "this machine has " + std::to_string(count) + " CUDA device" +
                            (count == 1 ? "" : "s") +
                            " (cuda:0 .. cuda:" + std::to_string(count - 1) + ")";
    return false;
  }
  return true;
}

void* DeviceAlloc(int device, size_t bytes, bool zeroed) {
  Context& ctx = GetContext(device);
  void* ptr = nullptr;
  cudaError_t status = cudaMalloc(&ptr, bytes == 0 ? 1 : bytes);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    throw std::runtime_error("CUDA out of memory on cuda:" + std::to_string(device) +
                             ": could not allocate " + Mib(bytes) + " (" + Mib(free_bytes) +
                             " free of " + Mib(total_bytes) +
                             "). Use a smaller batch, dispose() tensors and plans no longer "
                             "needed, or free the GPU from other processes.");
  }
  CUDA_CHECK("allocate", status);
  if (zeroed) CUDA_CHECK("allocate", cudaMemsetAsync(ptr, 0, bytes, ctx.stream()));
  MemoryStats& s = Stats()[device];
  s.allocated += static_cast<int64_t>(bytes);
  if (s.allocated > s.peak) s.peak = s.allocated;
  return ptr;
}

void DeviceFree(int device, void* ptr, size_t bytes) noexcept {
  if (ptr == nullptr) return;
  // cudaFree waits for the device, so no queued kernel still reads the buffer. Its status is not
  // checked: this runs from destructors and finalisers, at process exit after the runtime has
  // unloaded too, where throwing would abort; a real fault shows on the next checked call.
  cudaSetDevice(device);
  cudaFree(ptr);
  cudaGetLastError();
  Stats()[device].allocated -= static_cast<int64_t>(bytes);
}

void CopyToDevice(int device, void* dst, const void* src, size_t bytes) {
  Context& ctx = GetContext(device);
  CUDA_CHECK("write", cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx.stream()));
}

Completion RecordCompletion(int device) {
  Context& ctx = GetContext(device);
  ctx.JoinCommunication();
  cudaEvent_t event;
  CUDA_CHECK("synchronize", cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  cudaError_t status = cudaEventRecord(event, ctx.stream());
  if (status != cudaSuccess) cudaEventDestroy(event);
  CUDA_CHECK("synchronize", status);
  return Completion{device, event};
}

void WaitCompletion(const Completion& done) {
  cudaError_t status = cudaEventSynchronize(done.event);
  cudaEventDestroy(done.event);
  CUDA_CHECK("synchronize", status);
}

void CopyToHostAfter(const Completion& done, void* dst, const void* src, size_t bytes) {
  WaitCompletion(done);
  // Everything queued before the marker has finished, so a synchronous copy reads final values.
  // It runs on the legacy default stream, which does not wait for our non-blocking streams.
  CUDA_CHECK("read", cudaSetDevice(done.device));
  CUDA_CHECK("read", cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}

void CopyOnDevice(int device, void* dst, const void* src, size_t bytes) {
  if (dst == src) return;
  Context& ctx = GetContext(device);
  CUDA_CHECK("copy", cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx.stream()));
}

MemoryStats GetMemoryStats(int device) { return Stats()[device]; }

void Synchronize(int device) {
  Context& ctx = GetContext(device);
  ctx.JoinCommunication();
  CUDA_CHECK("synchronize", cudaStreamSynchronize(ctx.stream()));
}

void ResetPeak(int device) {
  MemoryStats& s = Stats()[device];
  s.peak = s.allocated;
}

}  // namespace alexnet::cuda
