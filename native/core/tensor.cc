#include "core/tensor.h"

#include <cstdlib>
#include <cstring>

#include "core/args.h"

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
  std::string device = info[1].As<Napi::String>().Utf8Value();
  if (device != "cpu") {
    throw Napi::Error::New(info.Env(), "Tensor: device '" + device + "' is not built");
  }
  data_ = AllocateHost(numel_);
  Napi::MemoryManagement::AdjustExternalMemory(info.Env(), numel_ * sizeof(float));
}

Tensor::~Tensor() { Release(); }

void Tensor::Release() {
  if (data_ == nullptr) return;
  std::free(data_);
  data_ = nullptr;
}

Napi::Value Tensor::Read(const Napi::CallbackInfo& info) {
  RequireLive(info.Env(), *this, "tensor");
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), numel_);
  std::memcpy(out.Data(), data_, numel_ * sizeof(float));
  return out;
}

void Tensor::Write(const Napi::CallbackInfo& info) {
  RequireLive(info.Env(), *this, "tensor");
  Napi::Float32Array src = info[0].As<Napi::Float32Array>();
  std::memcpy(data_, src.Data(), numel_ * sizeof(float));
}

void Tensor::Fill(const Napi::CallbackInfo& info) {
  RequireLive(info.Env(), *this, "tensor");
  float value = info[0].As<Napi::Number>().FloatValue();
  for (int64_t i = 0; i < numel_; ++i) data_[i] = value;
}

void Tensor::CopyFrom(const Napi::CallbackInfo& info) {
  RequireLive(info.Env(), *this, "tensor");
  Tensor& src = UnwrapTensor(info.Env(), info[0], "source");
  std::memcpy(data_, src.data(), numel_ * sizeof(float));
}

void Tensor::Dispose(const Napi::CallbackInfo& info) {
  if (data_ == nullptr) return;
  Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -numel_ * int64_t(sizeof(float)));
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
