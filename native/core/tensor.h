// Tensor: a float32 NCHW buffer on a device, exposed to JavaScript as an ObjectWrap handle.
// On a CUDA device the buffer is device memory (native/cuda/memory.h); read() waits for the
// device's stream, the other methods are queued on it.
//
// The buffer is freed by dispose(); the finaliser is only a backstop, because the garbage
// collector cannot see device memory. Ops receive raw pointers from Tensor::Unwrap checks in
// native/core/args.h and never own tensors.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace alexnet {

enum class DeviceKind { kCpu, kCuda };

struct Device {
  DeviceKind kind = DeviceKind::kCpu;
  int index = 0;
  std::string Name() const;
  bool operator==(const Device& other) const {
    return kind == other.kind && (kind == DeviceKind::kCpu || index == other.index);
  }
};

// The device named `name` ('cpu' or 'cuda:N'), for `what` (a class name in messages). Throws when
// this build has no CUDA backend, or the CUDA device is not there (with the runtime's reason).
Device ParseDevice(Napi::Env env, const std::string& name, const char* what);

class Tensor : public Napi::ObjectWrap<Tensor> {
 public:
  static void Register(Napi::Env env, Napi::Object exports);
  static bool IsTensor(Napi::Env env, const Napi::Value& value);

  // new Tensor(shape: number[], device: 'cpu' | 'cuda:N'): zero-filled. data() is host memory on
  // the CPU and device memory on a CUDA device.
  explicit Tensor(const Napi::CallbackInfo& info);
  ~Tensor() override;

  float* data() const { return data_; }
  int64_t numel() const { return numel_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  const Device& device() const { return device_; }
  bool disposed() const { return data_ == nullptr; }

 private:
  size_t Bytes() const { return static_cast<size_t>(numel_) * sizeof(float); }
  void Release();
  Napi::Value Read(const Napi::CallbackInfo& info);
  void Write(const Napi::CallbackInfo& info);
  void Fill(const Napi::CallbackInfo& info);
  void CopyFrom(const Napi::CallbackInfo& info);
  void Dispose(const Napi::CallbackInfo& info);
  Napi::Value GetShape(const Napi::CallbackInfo& info);
  Napi::Value GetDevice(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);

  float* data_ = nullptr;
  int64_t numel_ = 0;
  std::vector<int64_t> shape_;
  Device device_;
};

}  // namespace alexnet
