// The N-API entry points, one Register function per op family (native/bindings/<family>.cc).
// Each entry point unwraps its arguments, picks the backend from the tensors' device and calls
// the kernel; argument validation with user-facing messages lives in lib/ops.
#pragma once

#include <napi.h>

namespace alexnet {

void RegisterGemm(Napi::Env env, Napi::Object exports);
void RegisterDropout(Napi::Env env, Napi::Object exports);
void RegisterLoss(Napi::Env env, Napi::Object exports);
void RegisterSgd(Napi::Env env, Napi::Object exports);
void RegisterAdam(Napi::Env env, Napi::Object exports);
void RegisterAugment(Napi::Env env, Napi::Object exports);
void RegisterConv(Napi::Env env, Napi::Object exports);
void RegisterBias(Napi::Env env, Napi::Object exports);
void RegisterRelu(Napi::Env env, Napi::Object exports);
void RegisterLrn(Napi::Env env, Napi::Object exports);
void RegisterPool(Napi::Env env, Napi::Object exports);
void RegisterDevices(Napi::Env env, Napi::Object exports);
void RegisterResize(Napi::Env env, Napi::Object exports);
// Only when the CUDA backend is built (ALEXNET_WITH_CUDA).
void RegisterNccl(Napi::Env env, Napi::Object exports);
// Only when the MPI backend is built (ALEXNET_WITH_MPI).
void RegisterMpi(Napi::Env env, Napi::Object exports);

}  // namespace alexnet
