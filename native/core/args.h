// Argument helpers for the N-API entry points.
//
// Validation with user-facing messages happens in TypeScript (lib/); these helpers are the
// backstop that turns a disposed or foreign handle into a JS Error instead of a crash.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/environment.h"
#include "core/tensor.h"

namespace alexnet {

inline void RequireLive(Napi::Env env, const Tensor& t, const char* name) {
  if (t.disposed()) {
    throw Napi::Error::New(env, std::string("Tensor ") + name + " has been disposed");
  }
}

inline Tensor& UnwrapTensor(Napi::Env env, const Napi::Value& value, const char* name) {
  if (!Tensor::IsTensor(env, value)) {
    throw Napi::TypeError::New(env, std::string("Expected a Tensor for ") + name);
  }
  Tensor& t = *Tensor::Unwrap(value.As<Napi::Object>());
  RequireLive(env, t, name);
  return t;
}

// Blocks until the executor is idle; its pending error becomes a JS Error.
inline void WaitForQueue(Napi::Env env, Executor& executor) {
  try {
    executor.Wait();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// Whether the op runs on a CUDA device: all tensors of a call are on one device (lib/ checks).
inline bool OnCuda(const Tensor& t) { return t.device().kind == DeviceKind::kCuda; }

inline float* TensorData(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return UnwrapTensor(info.Env(), info[i], name).data();
}

inline int IntArg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().Int32Value();
}

inline uint32_t Uint32Arg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().Uint32Value();
}

inline float FloatArg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().FloatValue();
}

inline bool BoolArg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Boolean>().Value();
}

// A copy of a typed array argument (T is its element type): queued ops cannot hold JavaScript
// memory, which may change or be collected before they run.
template <typename T>
std::vector<T> TypedArrayCopy(const Napi::CallbackInfo& info, size_t i) {
  auto array = info[i].As<Napi::TypedArrayOf<T>>();
  return std::vector<T>(array.Data(), array.Data() + array.ElementLength());
}

}  // namespace alexnet
