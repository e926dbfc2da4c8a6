// When the CUDA backend is built (absent from the exports otherwise):
//   cudaDevices(): { devices: [{ index, name, memory, compute }], error, driverCuda, runtimeCuda }:
//     the CUDA versions as numbers, 1000 * major + 10 * minor (driverCuda 0 without a driver)
//   cudaLibraries(folders?): opens cuDNN and cuBLAS (native/cuda/library.h), searching `folders`
//     (string[]) after ALEXNET_CUDA_LIBS and the loader path when given, and says where from, the
//     versions, the sub-libraries that did not open, or what was tried: { ok, notFound, error,
//     cudnn, cublas, nvrtc, versions: { cudnn, cudnnCuda, cublas, cublasCuda, driverCuda,
//     runtimeCuda }, unopened, folders, deterministic }
//   cudaConvAlgorithms(index): [{ pass, shape, algo, workspace, mathType, deterministic }]: the
//     convolution algorithms chosen on that device so far (native/cuda/conv.cc), pass 'fwd',
//     'bwd_data' or 'bwd_filter', mathType and deterministic as cudnnFind reported them, and shape
//     "n,c,h,w,k,kh,kw,stride_h,stride_w,pad_h,pad_w,groups,float32", where n is the batch bucket
//     (the power of two at or above the batch sizes it serves)
//   cudaMemory(index): { allocated, peak } bytes held through the addon's allocator
//   cudaResetPeak(index), cudaSynchronize(index): for benchmarks
#include "bindings/bindings.h"
#include "core/args.h"

#if defined(ALEXNET_WITH_CUDA)
#include "cuda/context.h"
#include "cuda/determinism.h"
#include "cuda/devices.h"
#include "cuda/library.h"
#include "cuda/memory.h"
#endif

namespace alexnet {

#if defined(ALEXNET_WITH_CUDA)
namespace {

// Waits until this environment's queued ops and frees have run (so memory figures and
// synchronisation cover them), then holds the CUDA lock for the caller's query
// (core/executor.h): the device given as argument 0.
std::unique_lock<std::mutex> QuietDevice(const Napi::CallbackInfo& info) {
  WaitForQueue(info.Env(), *EnvironmentOf(info.Env()).executor);
  return LockDevice(Device{DeviceKind::kCuda, IntArg(info, 0)});
}

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
  const cuda::CudaVersions versions = cuda::GetCudaVersions();
  result.Set("driverCuda", versions.driver);
  result.Set("runtimeCuda", versions.runtime);
  return result;
}

Napi::Array StringArray(Napi::Env env, const std::vector<std::string>& strings) {
  Napi::Array array = Napi::Array::New(env, strings.size());
  for (size_t i = 0; i < strings.size(); ++i) array.Set(static_cast<uint32_t>(i), strings[i]);
  return array;
}

Napi::Value CudaLibraries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // The libraries' state is shared with the ops running on the executor (core/executor.h).
  auto device_lock = LockDevice(Device{DeviceKind::kCuda, 0});
  if (info.Length() > 0 && info[0].IsArray()) {
    Napi::Array list = info[0].As<Napi::Array>();
    std::vector<std::string> folders;
    for (uint32_t i = 0; i < list.Length(); ++i) {
      folders.push_back(list.Get(i).As<Napi::String>().Utf8Value());
    }
    cuda::SetLibraryFolders(folders);
  }
  cuda::LibraryReport report = cuda::ProbeLibraries();
  Napi::Object versions = Napi::Object::New(env);
  versions.Set("cudnn", report.cudnn_version);
  versions.Set("cudnnCuda", report.cudnn_cuda);
  versions.Set("cublas", report.cublas_version);
  versions.Set("cublasCuda", report.cublas_cuda);
  versions.Set("driverCuda", report.driver_cuda);
  versions.Set("runtimeCuda", report.runtime_cuda);
  Napi::Object result = Napi::Object::New(env);
  result.Set("ok", report.ok);
  result.Set("notFound", report.not_found);
  result.Set("error", report.error);
  result.Set("cudnn", report.cudnn);
  result.Set("cublas", report.cublas);
  result.Set("nvrtc", report.nvrtc);
  result.Set("versions", versions);
  result.Set("unopened", StringArray(env, report.unopened));
  result.Set("deterministic", cuda::DeterministicOnly());
  result.Set("folders", StringArray(env, report.folders));
  return result;
}

Napi::Value CudaConvAlgorithms(const Napi::CallbackInfo& info) {
  auto device_lock = QuietDevice(info);
  Napi::Env env = info.Env();
  const auto& cache = cuda::GetContext(IntArg(info, 0)).algorithm_cache();
  Napi::Array list = Napi::Array::New(env, cache.size());
  uint32_t i = 0;
  for (const auto& [key, chosen] : cache) {
    const size_t colon = key.find(':');
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("pass", key.substr(0, colon));
    entry.Set("shape", key.substr(colon + 1));
    entry.Set("algo", chosen.algo);
    entry.Set("workspace", static_cast<double>(chosen.workspace));
    entry.Set("mathType", chosen.math_type);
    entry.Set("deterministic", chosen.deterministic);
    list.Set(i++, entry);
  }
  return list;
}

Napi::Value CudaMemory(const Napi::CallbackInfo& info) {
  auto device_lock = QuietDevice(info);
  cuda::MemoryStats stats = cuda::GetMemoryStats(IntArg(info, 0));
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("allocated", static_cast<double>(stats.allocated));
  result.Set("peak", static_cast<double>(stats.peak));
  return result;
}

void CudaResetPeak(const Napi::CallbackInfo& info) {
  auto device_lock = QuietDevice(info);
  cuda::ResetPeak(IntArg(info, 0));
}

void CudaSynchronize(const Napi::CallbackInfo& info) {
  auto device_lock = QuietDevice(info);
  cuda::Synchronize(IntArg(info, 0));
}

}  // namespace
#endif

void RegisterDevices(Napi::Env env, Napi::Object exports) {
#if defined(ALEXNET_WITH_CUDA)
  exports.Set("cudaDevices", Napi::Function::New<CudaDevices>(env, "cudaDevices"));
  exports.Set("cudaLibraries", Napi::Function::New<CudaLibraries>(env, "cudaLibraries"));
  exports.Set("cudaConvAlgorithms",
              Napi::Function::New<CudaConvAlgorithms>(env, "cudaConvAlgorithms"));
  exports.Set("cudaMemory", Napi::Function::New<CudaMemory>(env, "cudaMemory"));
  exports.Set("cudaResetPeak", Napi::Function::New<CudaResetPeak>(env, "cudaResetPeak"));
  exports.Set("cudaSynchronize", Napi::Function::New<CudaSynchronize>(env, "cudaSynchronize"));
#endif
}

}  // namespace alexnet
