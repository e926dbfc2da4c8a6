// Device memory for Tensor (native/core/tensor.cc) without CUDA headers: allocation with a
// peak counter, copies in every direction on the device's stream, and fill.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace alexnet::cuda {

// Whether `index` names a usable CUDA device; otherwise `why` says why not.
bool DeviceAvailable(int index, std::string* why);

// `bytes` of zeroed device memory on `device`; throws with the free and total memory and what to
// do when the device is out of memory.
void* DeviceAlloc(int device, size_t bytes);
// Never throws (it runs from destructors); see memory.cc.
void DeviceFree(int device, void* ptr, size_t bytes) noexcept;

// Host arrays may be any pageable memory; CopyToHost waits for the stream.
void CopyToDevice(int device, void* dst, const void* src, size_t bytes);
void CopyToHost(int device, void* dst, const void* src, size_t bytes);
void CopyOnDevice(int device, void* dst, const void* src, size_t bytes);

// ptr[0 .. n) = value (fill.cu).
void Fill(int device, float* ptr, int64_t n, float value);

// Bytes of device memory this process holds through DeviceAlloc now, and at most since the
// last ResetPeak: tensors, workspace and staging; not the libraries' own allocations.
struct MemoryStats {
  int64_t allocated;
  int64_t peak;
};
MemoryStats GetMemoryStats(int device);

// Waits until every op queued on the device's stream has finished.
void Synchronize(int device);
void ResetPeak(int device);

}  // namespace alexnet::cuda
