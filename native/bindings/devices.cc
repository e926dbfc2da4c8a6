// cudaDevices(): { devices: [{ index, name, memory, compute }], error } when the CUDA backend is
// built; absent from the exports otherwise.
#include "bindings/bindings.h"

#if defined(ALEXNET_WITH_CUDA)
#include "cuda/devices.h"
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

}  // namespace
#endif

void RegisterDevices(Napi::Env env, Napi::Object exports) {
#if defined(ALEXNET_WITH_CUDA)
  exports.Set("cudaDevices", Napi::Function::New<CudaDevices>(env, "cudaDevices"));
#endif
}

}  // namespace alexnet
