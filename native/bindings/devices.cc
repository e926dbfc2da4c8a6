// When the CUDA backend is built (absent from the exports otherwise):
//   cudaDevices(): { devices: [{ index, name, memory, compute }], error }
//   cudaLibraries(): { ok, cudnn, cublas, error }: opens cuDNN and cuBLAS (native/cuda/library.h)
//     and says where from, or what was tried
//   cudaMemory(index): { allocated, peak } bytes held through the addon's allocator
//   cudaResetPeak(index), cudaSynchronize(index): for benchmarks
#include "bindings/bindings.h"
#include "core/args.h"

#if defined(ALEXNET_WITH_CUDA)
#include "cuda/devices.h"
#include "cuda/library.h"
#include "cuda/memory.h"
#endif

namespace alexnet {

#if defined(ALEXNET_WITH_CUDA)
namespace {

Napi::Value CudaDevices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string error;
  std::vector<cuda::DeviceInfo> devices = cuda::ListDevices(&error);
  Napi::Array list = Napi::Array::New(env, devices.size());
  for (size_t i = 0; i < devices.size(); ++i) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("index", devices[i].index);
    d.Set("name", devices[i].name);
    d.Set("memory", static_cast<double>(devices[i].total_memory));
    d.Set("compute", std::to_string(devices[i].compute_major) + "." +
                         std::to_string(devices[i].compute_minor));
    list.Set(static_cast<uint32_t>(i), d);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("devices", list);
  result.Set("error", error);
  return result;
}

Napi::Value CudaLibraries(const Napi::CallbackInfo& info) {
  cuda::LibraryStatus status = cuda::ProbeLibraries();
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("ok", status.error.empty());
  result.Set("cudnn", status.cudnn);
  result.Set("cublas", status.cublas);
  result.Set("error", status.error);
  return result;
}

Napi::Value CudaMemory(const Napi::CallbackInfo& info) {
  cuda::MemoryStats stats = cuda::GetMemoryStats(IntArg(info, 0));
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("allocated", static_cast<double>(stats.allocated));
  result.Set("peak", static_cast<double>(stats.peak));
  return result;
}

void CudaResetPeak(const Napi::CallbackInfo& info) { cuda::ResetPeak(IntArg(info, 0)); }

void CudaSynchronize(const Napi::CallbackInfo& info) { cuda::Synchronize(IntArg(info, 0)); }

}  // namespace
#endif

void RegisterDevices(Napi::Env env, Napi::Object exports) {
#if defined(ALEXNET_WITH_CUDA)
  exports.Set("cudaDevices", Napi::Function::New<CudaDevices>(env, "cudaDevices"));
  exports.Set("cudaLibraries", Napi::Function::New<CudaLibraries>(env, "cudaLibraries"));
  exports.Set("cudaMemory", Napi::Function::New<CudaMemory>(env, "cudaMemory"));
  exports.Set("cudaResetPeak", Napi::Function::New<CudaResetPeak>(env, "cudaResetPeak"));
  exports.Set("cudaSynchronize", Napi::Function::New<CudaSynchronize>(env, "cudaSynchronize"));
#endif
}

}  // namespace alexnet
