// Tensor: a float32 NCHW buffer on a device, exposed to JavaScript as an ObjectWrap handle.
// On a CUDA device the buffer is device memory (native/cuda/memory.h).
//
// The buffer is a Storage shared by the tensor and its views (a view is the first elements of a
// buffer under a smaller shape: a layer's buffers for a smaller batch). It is freed when the
// last tensor using it is disposed, and then only after the ops queued before (the environment's
// executor, core/executor.h), so dispose() is safe while work is in flight. The finaliser is
// only a backstop, because the garbage collector cannot see device memory. Ops receive raw
// pointers from the checks in native/core/args.h and never own tensors.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/device.h"
#include "core/executor.h"

namespace alexnet {

// A version no buffer has had yet (Storage::version): one counter for all of them, so that no
// two contents of any buffers share one, not even a freed buffer's and a new one's at its address.
inline uint64_t NextStorageVersion() {
  static std::atomic<uint64_t> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

// One allocation; its destructor queues the free behind the ops that may still use it.
class Storage {
 public:
  Storage(const Device& device, size_t bytes, std::shared_ptr<Executor> executor);
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage();

  float* data() const { return data_; }
  size_t bytes() const { return bytes_; }

  // Changes whenever a writable pointer to the buffer is handed out (Tensor::data()): while it
  // is unchanged, so are the contents, and a copy made from them (a layer's packed weights,
  // bindings/gemm.cc and conv.cc) is still valid. Taken on the JavaScript thread as ops are
  // queued, which is also the order they run in.
  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void CountWrite() { version_.store(NextStorageVersion(), std::memory_order_relaxed); }

 private:
  Device device_;
  size_t bytes_;
  std::shared_ptr<Executor> executor_;
  float* data_ = nullptr;
  std::atomic<uint64_t> version_{NextStorageVersion()};
};

class Tensor : public Napi::ObjectWrap<Tensor> {
 public:
  static void Register(Napi::Env env, Napi::Object exports);
  static bool IsTensor(Napi::Env env, const Napi::Value& value);

  // new Tensor(shape: number[], device: 'cpu' | 'cuda:N'): zero-filled.
  // new Tensor(shape, device, base: Tensor): a view of base's first elements (base's device).
  explicit Tensor(const Napi::CallbackInfo& info);
  ~Tensor() override;

  // A pointer an op may write through: counts as a write (Storage::version).
  float* data() const {
    if (!storage_) return nullptr;
    storage_->CountWrite();
    return storage_->data();
  }
  // A pointer for an op that only reads, which leaves the version as it is.
  const float* read_data() const { return storage_ ? storage_->data() : nullptr; }
  // The buffer's identity and version (Storage::version): equal pairs, equal contents.
  const void* storage_id() const { return storage_.get(); }
  uint64_t version() const { return storage_ ? storage_->version() : 0; }
  int64_t numel() const { return numel_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  const Device& device() const { return device_; }
  bool disposed() const { return storage_ == nullptr; }

 private:
  size_t Bytes() const { return static_cast<size_t>(numel_) * sizeof(float); }
  void Release(Napi::Env env);
  Napi::Value Read(const Napi::CallbackInfo& info);
  void Write(const Napi::CallbackInfo& info);
  void Fill(const Napi::CallbackInfo& info);
  void CopyFrom(const Napi::CallbackInfo& info);
  void Dispose(const Napi::CallbackInfo& info);
  Napi::Value GetShape(const Napi::CallbackInfo& info);
  Napi::Value GetDevice(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);

  std::shared_ptr<Storage> storage_;
  std::shared_ptr<Executor> executor_;
  int64_t numel_ = 0;
  std::vector<int64_t> shape_;
  Device device_;
  // Whether this tensor allocated its storage (and reported it to V8 as external memory).
  bool owner_ = true;
};

}  // namespace alexnet
