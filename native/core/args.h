// Argument helpers for the N-API entry points.
//
// Validation with user-facing messages happens in TypeScript (lib/); these helpers are the
// backstop that turns a disposed or foreign handle into a JS Error instead of a crash.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

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

// The elements of a typed array argument (its byte offset applied); T is its element type.
template <typename T>
T* TypedArrayData(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::TypedArrayOf<T>>().Data();
}

}  // namespace alexnet
