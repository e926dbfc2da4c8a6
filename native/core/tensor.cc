#include "core/tensor.h"

#include <cstdlib>
#include <cstring>

#include "core/args.h"

#if defined(ALEXNET_WITH_CUDA)
#include "cuda/memory.h"
#endif

namespace alexnet {

namespace {

// 64 bytes: one cache line, and the widest vector load (AVX-512) the CPU kernels issue.
constexpr size_t kAlignment = 64;

float* AllocateHost(int64_t numel) {
  size_t bytes = static_cast<size_t>(numel) * sizeof(float);
  bytes = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  void* ptr = std::aligned_alloc(kAlignment, bytes == 0 ? kAlignment : bytes);
  if (ptr == nullptr) throw std::bad_alloc();
  std::memset(ptr, 0, bytes);
  return static_cast<float*>(ptr);
}

Napi::FunctionReference* constructor = nullptr;

}  // namespace

Device ParseDevice(Napi::Env env, const std::string& name, const char* what) {
  if (name == "cpu") return Device{};
#if defined(ALEXNET_WITH_CUDA)
  if (name.rfind("cuda:", 0) == 0 && name.size() > 5 &&
      name.find_first_not_of("0123456789", 5) == std::string::npos && name.size() < 15) {
    const int index = std::stoi(name.substr(5));
    std::string why;
    if (!cuda::DeviceAvailable(index, &why)) {
      throw Napi::Error::New(
          env, std::string(what) + ": device '" + name + "' is not available: " + why);
    }
    return Device{DeviceKind::kCuda, index};
  }
#endif
  throw Napi::Error::New(env, std::string(what) + ": device '" + name + "' is not built");
}

std::string Device::Name() const {
  return kind == DeviceKind::kCpu ? "cpu" : "cuda:" + std::to_string(index);
}

void Tensor::Register(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = DefineClass(env, "Tensor",
                                   {
                                       InstanceMethod<&Tensor::Read>("read"),
                                       InstanceMethod<&Tensor::Write>("write"),
                                       InstanceMethod<&Tensor::Fill>("fill"),
                                       InstanceMethod<&Tensor::CopyFrom>("copyFrom"),
                                       InstanceMethod<&Tensor::Dispose>("dispose"),
                                       InstanceAccessor<&Tensor::GetShape>("shape"),
                                       InstanceAccessor<&Tensor::GetDevice>("device"),
                                       InstanceAccessor<&Tensor::GetDisposed>("disposed"),
                                   });
  constructor = new Napi::FunctionReference(Napi::Persistent(cls));
  exports.Set("Tensor", cls);
}

bool Tensor::IsTensor(Napi::Env env, const Napi::Value& value) {
  return value.IsObject() && value.As<Napi::Object>().InstanceOf(constructor->Value());
}

Tensor::Tensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tensor>(info) {
  Napi::Array dims = info[0].As<Napi::Array>();
  numel_ = 1;
  for (uint32_t i = 0; i < dims.Length(); ++i) {
    int64_t d = dims.Get(i).As<Napi::Number>().Int64Value();
    shape_.push_back(d);
    numel_ *= d;
  }
  device_ = ParseDevice(info.Env(), info[1].As<Napi::String>().Utf8Value(), "Tensor");
#if defined(ALEXNET_WITH_CUDA)
  if (device_.kind == DeviceKind::kCuda) {
    data_ = static_cast<float*>(cuda::DeviceAlloc(device_.index, Bytes()));
    return;
  }
#endif
  data_ = AllocateHost(numel_);
  Napi::MemoryManagement::AdjustExternalMemory(info.Env(), Bytes());
}

Tensor::~Tensor() { Release(); }

void Tensor::Release() {
  if (data_ == nullptr) return;
#if defined(ALEXNET_WITH_CUDA)
  if (device_.kind == DeviceKind::kCuda) {
    cuda::DeviceFree(device_.index, data_, Bytes());
    data_ = nullptr;
    return;
  }
#endif
  std::free(data_);
  data_ = nullptr;
}

Napi::Value Tensor::Read(const Napi::CallbackInfo& info) {
  RequireLive(info.Env(), *this, "tensor");
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), numel_);
#if defined(ALEXNET_WITH_CUDA)
  if (device_.kind == DeviceKind::kCuda) {
    cuda::CopyToHost(device_.index, out.Data(), data_, Bytes());
    return out;
  }
#endif
  std::memcpy(out.Data(), data_, Bytes());
  return out;
}

void Tensor::Write(const Napi::CallbackInfo& info) {
  RequireLive(info.Env(), *this, "tensor");
  Napi::Float32Array src = info[0].As<Napi::Float32Array>();
#if defined(ALEXNET_WITH_CUDA)
  if (device_.kind == DeviceKind::kCuda) {
    cuda::CopyToDevice(device_.index, data_, src.Data(), Bytes());
    return;
  }
#endif
  std::memcpy(data_, src.Data(), Bytes());
}

void Tensor::Fill(const Napi::CallbackInfo& info) {
  RequireLive(info.Env(), *this, "tensor");
  float value = info[0].As<Napi::Number>().FloatValue();
#if defined(ALEXNET_WITH_CUDA)
  if (device_.kind == DeviceKind::kCuda) {
    cuda::Fill(device_.index, data_, numel_, value);
    return;
  }
#endif
  for (int64_t i = 0; i < numel_; ++i) data_[i] = value;
}

// Both tensors are on the same device (lib/tensor.ts checks it).
void Tensor::CopyFrom(const Napi::CallbackInfo& info) {
  RequireLive(info.Env(), *this, "tensor");
  Tensor& src = UnwrapTensor(info.Env(), info[0], "source");
#if defined(ALEXNET_WITH_CUDA)
  if (device_.kind == DeviceKind::kCuda) {
    cuda::CopyOnDevice(device_.index, data_, src.data(), Bytes());
    return;
  }
#endif
  std::memcpy(data_, src.data(), Bytes());
}

void Tensor::Dispose(const Napi::CallbackInfo& info) {
  if (data_ == nullptr) return;
  if (device_.kind == DeviceKind::kCpu) {
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -static_cast<int64_t>(Bytes()));
  }
  Release();
}

Napi::Value Tensor::GetShape(const Napi::CallbackInfo& info) {
  Napi::Array out = Napi::Array::New(info.Env(), shape_.size());
  for (size_t i = 0; i < shape_.size(); ++i) out.Set(i, Napi::Number::New(info.Env(), shape_[i]));
  return out;
}

Napi::Value Tensor::GetDevice(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), device_.Name());
}

Napi::Value Tensor::GetDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), disposed());
}

}  // namespace alexnet
