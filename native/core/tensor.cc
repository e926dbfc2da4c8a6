#include "core/tensor.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "core/args.h"
#include "core/environment.h"
#include "core/host_memory.h"

#if defined(ALEXNET_WITH_CUDA)
#include "cuda/memory.h"
#endif

namespace alexnet {

namespace {

// Bytes of host memory held by tensors, in every environment (the memory() diagnostic).
std::atomic<int64_t> host_bytes{0};

Napi::Value HostMemory(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(host_bytes.load()));
}

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

Storage::Storage(const Device& device, size_t bytes, std::shared_ptr<Executor> executor)
    : device_(device), bytes_(bytes), executor_(std::move(executor)) {
#if defined(ALEXNET_WITH_CUDA)
  if (device.kind == DeviceKind::kCuda) {
    auto device_lock = LockDevice(device);
    data_ = static_cast<float*>(cuda::DeviceAlloc(device.index, bytes));
    return;
  }
#endif
  data_ = AllocateHost(bytes);
  host_bytes += static_cast<int64_t>(bytes);
}

Storage::~Storage() {
  executor_->Release(device_, [device = device_, data = data_, bytes = bytes_] {
#if defined(ALEXNET_WITH_CUDA)
    if (device.kind == DeviceKind::kCuda) return cuda::DeviceFree(device.index, data, bytes);
#endif
    FreeHost(data, bytes);
    host_bytes -= static_cast<int64_t>(bytes);
  });
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
  EnvironmentOf(env).tensor = Napi::Persistent(cls);
  exports.Set("Tensor", cls);
  exports.Set("hostMemory", Napi::Function::New<HostMemory>(env, "hostMemory"));
}

bool Tensor::IsTensor(Napi::Env env, const Napi::Value& value) {
  return value.IsObject() && value.As<Napi::Object>().InstanceOf(EnvironmentOf(env).tensor.Value());
}

Tensor::Tensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tensor>(info) {
  Napi::Array dims = info[0].As<Napi::Array>();
  numel_ = 1;
  for (uint32_t i = 0; i < dims.Length(); ++i) {
    int64_t d = dims.Get(i).As<Napi::Number>().Int64Value();
    shape_.push_back(d);
    numel_ *= d;
  }
  executor_ = EnvironmentOf(info.Env()).executor;
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    // A view: lib/tensor.ts checks that it fits in the base.
    const Tensor& base = UnwrapTensor(info.Env(), info[2], "base");
    device_ = base.device_;
    storage_ = base.storage_;
    owner_ = false;
    return;
  }
  device_ = ParseDevice(info.Env(), info[1].As<Napi::String>().Utf8Value(), "Tensor");
  storage_ = std::make_shared<Storage>(device_, Bytes(), executor_);
  if (device_.kind == DeviceKind::kCpu) {
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), static_cast<int64_t>(Bytes()));
  }
}

Tensor::~Tensor() = default;

void Tensor::Release(Napi::Env env) {
  if (owner_ && device_.kind == DeviceKind::kCpu) {
    Napi::MemoryManagement::AdjustExternalMemory(env, -static_cast<int64_t>(Bytes()));
  }
  storage_.reset();
}

Napi::Value Tensor::Read(const Napi::CallbackInfo& info) {
  RequireLive(info.Env(), *this, "tensor");
  WaitForQueue(info.Env(), *executor_);
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), numel_);
#if defined(ALEXNET_WITH_CUDA)
  if (device_.kind == DeviceKind::kCuda) {
    // Queued under the device lock, waited for outside it (core/executor.h).
    try {
      cuda::Completion done;
      {
        auto device_lock = LockDevice(device_);
        done = cuda::RecordCompletion(device_.index);
      }
      cuda::CopyToHostAfter(done, out.Data(), data(), Bytes());
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), e.what());
    }
    return out;
  }
#endif
  std::memcpy(out.Data(), data(), Bytes());
  return out;
}

// The writes below are queued like ops, so they land after the ops queued before them. The
// source array is copied first: JavaScript may reuse it as soon as write() returns.
void Tensor::Write(const Napi::CallbackInfo& info) {
  RequireLive(info.Env(), *this, "tensor");
  Napi::Float32Array src = info[0].As<Napi::Float32Array>();
  std::vector<float> host(src.Data(), src.Data() + numel_);
  executor_->Submit(device_, [device = device_, dst = data(), host = std::move(host)] {
#if defined(ALEXNET_WITH_CUDA)
    if (device.kind == DeviceKind::kCuda) {
      return cuda::CopyToDevice(device.index, dst, host.data(), host.size() * sizeof(float));
    }
#endif
    std::memcpy(dst, host.data(), host.size() * sizeof(float));
  });
}

void Tensor::Fill(const Napi::CallbackInfo& info) {
  RequireLive(info.Env(), *this, "tensor");
  float value = info[0].As<Napi::Number>().FloatValue();
  executor_->Submit(device_, [device = device_, dst = data(), n = numel_, value] {
#if defined(ALEXNET_WITH_CUDA)
    if (device.kind == DeviceKind::kCuda) return cuda::Fill(device.index, dst, n, value);
#endif
    std::fill(dst, dst + n, value);
  });
}

// Both tensors are on the same device (lib/tensor.ts checks it).
void Tensor::CopyFrom(const Napi::CallbackInfo& info) {
  RequireLive(info.Env(), *this, "tensor");
  const float* src = TensorData(info, 0, "source");
  executor_->Submit(device_, [device = device_, dst = data(), src, bytes = Bytes()] {
#if defined(ALEXNET_WITH_CUDA)
    if (device.kind == DeviceKind::kCuda) return cuda::CopyOnDevice(device.index, dst, src, bytes);
#endif
    if (dst != src) std::memcpy(dst, src, bytes);
  });
}

void Tensor::Dispose(const Napi::CallbackInfo& info) {
  if (storage_ != nullptr) Release(info.Env());
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
