// Device memory for Tensor (native/core/tensor.cc) without CUDA headers: allocation with a
// peak counter, copies in every direction on the device's stream, and fill.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

struct CUevent_st;

namespace alexnet::cuda {

// Whether `index` names a usable CUDA device; otherwise `why` says why not.
bool DeviceAvailable(int index, std::string* why);

// `bytes` of device memory on `device`, zeroed unless `zeroed` is false (scratch that is written
// before it is read); throws with the free and total memory and what to do when the device is out
// of memory.
void* DeviceAlloc(int device, size_t bytes, bool zeroed = true);
// Never throws (it runs from destructors); see memory.cc.
void DeviceFree(int device, void* ptr, size_t bytes) noexcept;

// A marker of the work queued on the device so far: an event recorded on its stream after the
// allreduces queued on its communication stream are joined (context.h). Call it holding the
// device lock (core/executor.h); wait for it without.
struct Completion {
  int device = 0;
  CUevent_st* event = nullptr;
};
Completion RecordCompletion(int device);
// Waits until the marked work has finished, then destroys the event. Takes no device lock: the
// runtime's calls are thread-safe and the lock guards our own state, so other threads keep
// allocating and queueing meanwhile. Throws the device's error.
void WaitCompletion(const Completion& done);
// Waits for `done`, then copies device memory to the host (any pageable memory). No device lock.
void CopyToHostAfter(const Completion& done, void* dst, const void* src, size_t bytes);

// Host arrays may be any pageable memory.
void CopyToDevice(int device, void* dst, const void* src, size_t bytes);
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
